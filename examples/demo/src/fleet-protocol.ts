import type { CacheWatchStats } from "@pgcachewatch/core";
import type { RedisTierStats } from "@pgcachewatch/redis";

/** Where a read's answer came from, by the instance's own counters. */
export type ReadSource = "memory" | "Redis" | "PostgreSQL";

/** What the demo sends an instance process. */
export type FleetRequest = { op: "read" } | { op: "stats" } | { op: "stop" };

/** What an instance process sends back (or on its own: "ready", "dropped"). */
export type FleetReply =
  | { kind: "ready"; pid: number }
  | { kind: "read"; rows: Record<string, unknown>[]; source: ReadSource; ms: number }
  | { kind: "stats"; engine: CacheWatchStats; tier: RedisTierStats }
  | { kind: "dropped" }
  | { kind: "error"; message: string };

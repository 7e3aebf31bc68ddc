import type { TableInput } from "../events/table-name.js";
import type { Logger } from "../logger.js";
import type { ChangeSource } from "../sources/change-source.js";
import type { WalSourceOptions } from "../sources/wal/wal-source.js";
import type { CacheStore } from "../store/cache-store.js";
import type { StatementAnalyzer } from "./statement-analysis.js";

export interface CacheWatchOptions {
  /** Where the listener connects. Defaults to DATABASE_URL, then the standard PG* variables. */
  connectionString?: string;
  /** NOTIFY channel the triggers send on. Default "pgcachewatch". */
  channel?: string;
  /**
   * Where change events come from: "notify" (default; LISTEN on a dedicated connection fed by
   * the triggers), "wal" (logical replication: no triggers, no cost on the write path; see `wal`),
   * "none" (no listener: always serving, invalidation only through the API), or any ChangeSource.
   */
  source?: "notify" | "wal" | "none" | ChangeSource;
  /** Options of the logical replication source, for `source: "wal"` (tables to publish, slot, visibility delay, ...). */
  wal?: Omit<WalSourceOptions, "connectionString" | "logger">;
  /** Most entries kept. Default 10 000. */
  maxEntries?: number;
  /** Most approximate heap bytes kept: values, keys and the store's index. Default 64 MiB. */
  maxBytes?: number;
  /** A result larger than this is returned but not cached. Default maxBytes / 16. */
  maxEntryBytes?: number;
  /** Safety-net expiry per entry in ms (invalidation is the primary mechanism). Default 5 minutes; 0 = none. */
  ttl?: number;
  /** A load running longer than this fails for every waiter with LoadTimeoutError. Default 0 (no limit). */
  loadTimeout?: number;
  /**
   * How long stop() waits for loads in flight (ms). After that their waiters get
   * EngineStoppedError and their signals abort, so a loader that never settles cannot hold
   * stop() forever. Default 5000.
   */
  stopTimeout?: number;
  /** Schema of unqualified table names. Default "public". */
  defaultSchema?: string;
  /** Heartbeat period of the NOTIFY listener in ms: a query that must answer within the period. Default 5000. */
  heartbeatInterval?: number;
  /**
   * The install's event secret (print it with `pgcachewatch secret`). With it the NOTIFY listener
   * drops notifications that are not signed by the installed triggers (any role that can connect
   * may NOTIFY): they count as `malformedEvents` and `forgedEvents`. Without it, every well-formed
   * notification is trusted.
   */
  eventSecret?: string;
  /** Warn through the logger when the NOTIFY queue (`pg_notification_queue_usage()`, read with each heartbeat) is this full. Default 0.5. */
  queueUsageWarning?: number;
  /** Reconnect backoff of the NOTIFY listener: first delay and cap in ms. Default 100 and 10 000. */
  reconnectDelay?: { initial?: number; max?: number };
  /**
   * Install missing NOTIFY triggers for these tables at start (only catalog reads when they are in
   * place). Off by default: installing triggers is DDL that needs table ownership and takes locks,
   * which belongs in migrations (`pgcachewatch sql`), not in every app instance's boot.
   */
  ensureTriggers?: readonly TableInput[];
  /** Where values live. Default an in-memory LRU. */
  store?: CacheStore;
  logger?: Logger;
  /**
   * What reads the SQL that loads run (see `runStatement`). Default: PostgreSQL's own parser
   * with the catalog read over a connection of its own.
   */
  analyzer?: StatementAnalyzer;
}

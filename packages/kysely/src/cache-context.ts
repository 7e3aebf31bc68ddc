import type { CacheWatch } from "@pgcachewatch/core";
import type { SessionIdentity } from "@pgcachewatch/core/adapter";
import type { Driver } from "kysely";
import type { SessionChanges } from "./session-changes.js";

/** The part of the engine the adapter uses. */
export type CacheWatchApi = Pick<
  CacheWatch,
  "load" | "runStatement" | "inTransaction" | "beginTransaction" | "endTransaction"
>;

/** What a wrapped driver and its connections share. */
export interface CacheContext {
  /** The plugin: passes it opened are the ones this driver may take. */
  readonly owner: object;
  readonly watch: CacheWatchApi;
  /** The dialect's own driver: where pool connections come from. */
  readonly driver: Driver;
  /** Default ttl of cached queries (ms), when `cached()` gives none; undefined = the engine's. */
  readonly ttl: number | undefined;
  /** The role and search_path of the driver's connections, read when the driver initialises. */
  session: SessionIdentity | undefined;
  /** Pool connections whose role or search_path a statement changed. */
  readonly sessionChanges: SessionChanges;
}

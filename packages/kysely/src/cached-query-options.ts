import type { TableInput } from "@pgcachewatch/core";

/** How one query (or every query of a `db.withPlugin(cached())` scope) is cached. */
export interface CachedQueryOptions {
  /** Expiry of the entry in ms, a safety net behind invalidation. Default: the plugin's, then the engine's ttl. 0 = none. */
  readonly ttl?: number;
  /**
   * Tables the query depends on beyond those its operation tree names: the tables behind a view or a
   * function, or those of a `sql` fragment. Naming tables is what lets a query with raw SQL be cached.
   */
  readonly tables?: readonly TableInput[];
  /** Extra tags, for `watch.invalidate({ tags })`. */
  readonly tags?: readonly string[];
}

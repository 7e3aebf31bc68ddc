import type { TableInput } from "@pgcachewatch/core";

/** How one query (or every query of a `db.withPlugin(cached())` scope) is cached. */
export interface CachedQueryOptions {
  /** Expiry of the entry in ms, a safety net behind invalidation. Default: the plugin's, then the engine's ttl. 0 = none. */
  readonly ttl?: number;
  /**
   * Tables the query depends on beyond those PostgreSQL's parser and catalog find in its SQL: the
   * tables a user function reads. Naming tables is what lets an opaque statement be cached.
   */
  readonly tables?: readonly TableInput[];
  /** Extra tags, for `watch.invalidate({ tags })`. */
  readonly tags?: readonly string[];
  /**
   * What the result is specific to beyond the SQL and the connection's role: a tenant id under
   * row-level security, the value a `current_setting()` reads. Part of the key. A read whose
   * result depends on the session (a table with row-level security, `current_setting()`,
   * `current_user`) is cached only with a scope, and so is a read on a reserved connection.
   */
  readonly scope?: string;
}

/** Options as a query carries them: with the part of the key they contribute. */
export interface ResolvedCacheOptions extends CachedQueryOptions {
  /** Declared tables and tags change what the entry is invalidated by: entries differ with them. */
  readonly keyPart: string;
}

export function resolveCacheOptions(options: CachedQueryOptions): ResolvedCacheOptions {
  const keyPart =
    options.tables === undefined && options.tags === undefined
      ? ""
      : JSON.stringify([options.tables ?? null, options.tags ?? null]);
  return Object.freeze({ ...options, keyPart });
}

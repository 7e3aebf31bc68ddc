import { PgCacheWatchError } from "@pgcachewatch/core";

/** `$cached()` was called on a query whose `db` was not created with `cache: pgCacheWatchCache(watch)`. */
export class CacheNotConfiguredError extends PgCacheWatchError {
  constructor() {
    super(
      "DRIZZLE_CACHE_NOT_CONFIGURED",
      "$cached() needs a db created with drizzle({ client, cache: pgCacheWatchCache(watch) })",
    );
  }
}

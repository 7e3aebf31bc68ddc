import { PgCacheWatchError } from "@pgcachewatch/core";

/** `cached()` ran on a Kysely instance whose `plugins` do not include the cache plugin (or list it after the marker). */
export class CachePluginMissingError extends PgCacheWatchError {
  constructor() {
    super(
      "KYSELY_CACHE_PLUGIN_MISSING",
      "cached() needs the pgCacheWatch plugin in this Kysely instance's plugins, registered before the query is marked: new Kysely({ dialect: cache.dialect(dialect), plugins: [cache] })",
    );
  }
}

/** The cache plugin is registered but no Kysely instance was built with `cache.dialect(...)`. */
export class CacheDialectMissingError extends PgCacheWatchError {
  constructor() {
    super(
      "KYSELY_CACHE_DIALECT_MISSING",
      "the pgCacheWatch plugin needs its dialect wrapper to serve cached queries: new Kysely({ dialect: cache.dialect(dialect), plugins: [cache] })",
    );
  }
}

/** Bad options given to `cached()` or `pgCacheWatch()`. */
export class InvalidCacheOptionError extends PgCacheWatchError {
  constructor(option: string, why: string) {
    super("KYSELY_INVALID_CACHE_OPTION", `invalid cache option ${option}: ${why}`);
  }
}

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

/** One class for every adapter's bad cache options (code INVALID_CACHE_OPTION). */
export { InvalidCacheOptionError } from "@pgcachewatch/core";

/** The wrapped dialect's driver has no savepoint support, and a savepoint was asked for. */
export class SavepointUnsupportedError extends PgCacheWatchError {
  constructor(method: string) {
    super("KYSELY_SAVEPOINT_UNSUPPORTED", `the wrapped driver does not support \`${method}\``);
  }
}

/** The wrapped driver was handed a connection the cache dialect did not hand out. */
export class ForeignConnectionError extends PgCacheWatchError {
  constructor() {
    super("KYSELY_FOREIGN_CONNECTION", "the cache driver received a connection it did not hand out");
  }
}

/** The role and search_path of the driver's connections could not be read. */
export class SessionIdentityError extends PgCacheWatchError {
  constructor() {
    super(
      "KYSELY_SESSION_IDENTITY",
      "the session identity query (current_user, search_path) returned no row",
    );
  }
}

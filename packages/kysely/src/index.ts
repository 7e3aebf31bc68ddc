export type { CacheWatchApi } from "./cache-context.js";
export { PgCacheWatchPlugin, type PgCacheWatchPluginOptions, pgCacheWatch } from "./cache-plugin.js";
export { type CachedMarker, cached, type PluginHost } from "./cached.js";
export type { CachedQueryOptions } from "./cached-query-options.js";
export {
  CacheDialectMissingError,
  CachePluginMissingError,
  ForeignConnectionError,
  InvalidCacheOptionError,
  SavepointUnsupportedError,
  SessionIdentityError,
} from "./errors.js";

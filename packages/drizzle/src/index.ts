import { installDrizzleIntegration } from "./install.js";

installDrizzleIntegration();

export type { CachedQueryOptions } from "./cached-query.js";
export { CacheNotConfiguredError } from "./errors.js";
export {
  PgCacheWatchCache,
  type PgCacheWatchCacheOptions,
  pgCacheWatchCache,
} from "./pg-cache-watch-cache.js";
export { deriveTables, type TableDerivation } from "./table-derivation.js";

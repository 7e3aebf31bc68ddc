import type { CachedQueryOptions } from "./cached-query.js";
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

// The augmentation lives in the entry module so bundled type declarations keep it.
declare module "drizzle-orm/pg-core" {
  interface PgSelectQueryBuilderBase<
    THKT,
    TTableName,
    TSelection,
    TSelectMode,
    TNullabilityMap,
    TDynamic,
    TExcludedMethods,
    TResult,
    TSelectedFields,
  > {
    /**
     * Run this query through the PGCacheWatch cache: a hit is served from memory, a miss loads once
     * and is kept until PostgreSQL reports a change to any table the query reads.
     */
    $cached(options?: CachedQueryOptions): Promise<TResult>;
  }
}

declare module "drizzle-orm/pg-core/query-builders/query" {
  interface PgRelationalQuery<TResult> {
    /** Like the select builder's `$cached()`, for `db.query.x.findMany/findFirst`, including every `with` relation. */
    $cached(options?: CachedQueryOptions): Promise<TResult>;
  }
}

import type { PreparedQueryConfig } from "drizzle-orm/pg-core";
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

// The augmentations live in the entry module so bundled type declarations keep them.
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

declare module "drizzle-orm/pg-core/query-builders/raw" {
  interface PgRaw<TResult> {
    /**
     * Cache this raw statement (`db.execute(sql...)`) like a select builder's `$cached()`: the
     * tables it reads are found by PostgreSQL's parser and catalog, none need naming.
     */
    $cached(options?: CachedQueryOptions): Promise<TResult>;
  }
}

declare module "drizzle-orm/pg-core/session" {
  interface PgPreparedQuery<T extends PreparedQueryConfig> {
    /**
     * Execute this prepared select or relational query through the PGCacheWatch cache, with these
     * placeholder values (`sql.placeholder("id")` → `{ id: 1 }`). Other prepared statements just run.
     */
    $cached(placeholderValues?: Record<string, unknown>, options?: CachedQueryOptions): Promise<T["execute"]>;
  }
}

declare module "drizzle-orm/pg-core/query-builders/query" {
  interface PgRelationalQuery<TResult> {
    /** Like the select builder's `$cached()`, for `db.query.x.findMany/findFirst`, including every `with` relation. */
    $cached(options?: CachedQueryOptions): Promise<TResult>;
  }
}

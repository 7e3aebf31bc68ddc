import { PgDatabase, PgPreparedQuery, PgSelectBase, PgSelectQueryBuilderBase } from "drizzle-orm/pg-core";
import { PgRelationalQuery } from "drizzle-orm/pg-core/query-builders/query";
import { PgRaw } from "drizzle-orm/pg-core/query-builders/raw";
import { cachedPrepared, kReadNamespace, type PreparedReadInternals } from "./cached-prepared.js";
import {
  type CachedQueryOptions,
  cachedRelationalQuery,
  cachedSelect,
  type RelationalQueryInternals,
  type SelectBuilderInternals,
} from "./cached-query.js";
import { cachedRaw, kRawSession, type RawQueryInternals } from "./cached-raw.js";
import { relationalShape, selectionShape } from "./drizzle-internals.js";
import { cacheOfSession } from "./pg-cache-watch-cache.js";
import { type PreparedStatementInternals, routeStatement } from "./statements.js";
import { installTransactionTracking } from "./transactions.js";

const kInstalled = Symbol.for("@pgcachewatch/drizzle:installed");

type Prototype = Record<PropertyKey, unknown>;
type QueryWithCache = (
  this: PreparedStatementInternals,
  queryString: string,
  params: unknown[],
  query: () => Promise<unknown>,
) => Promise<unknown>;

/**
 * Teach Drizzle's pg-core classes about PGCacheWatch. Every patch is inert unless the query's session
 * was created with a {@link PgCacheWatchCache}, so other db instances behave exactly as before.
 */
export function installDrizzleIntegration(): void {
  const marker = PgPreparedQuery.prototype as unknown as Prototype;
  if (marker[kInstalled]) return;
  marker[kInstalled] = true;

  (PgSelectQueryBuilderBase.prototype as unknown as Prototype).$cached = function $cached(
    this: SelectBuilderInternals,
    options?: CachedQueryOptions,
  ) {
    return cachedSelect(this, options);
  };
  (PgRelationalQuery.prototype as unknown as Prototype).$cached = function $cached(
    this: RelationalQueryInternals,
    options?: CachedQueryOptions,
  ) {
    return cachedRelationalQuery(this, options);
  };
  (PgRaw.prototype as unknown as Prototype).$cached = function $cached(
    this: RawQueryInternals,
    options?: CachedQueryOptions,
  ) {
    return cachedRaw(this, options);
  };
  (PgPreparedQuery.prototype as unknown as Prototype).$cached = function $cached(
    this: PreparedReadInternals,
    placeholderValues?: Record<string, unknown>,
    options?: CachedQueryOptions,
  ) {
    return cachedPrepared(this, placeholderValues, options);
  };

  recordReadNamespaces();
  recordRawSessions();
  installTransactionTracking();

  const prepared = PgPreparedQuery.prototype as unknown as { queryWithCache: QueryWithCache };
  const originalQueryWithCache = prepared.queryWithCache;
  prepared.queryWithCache = function queryWithCache(queryString, params, query) {
    const cache = cacheOfSession(this);
    if (cache === undefined) return originalQueryWithCache.call(this, queryString, params, query);
    return routeStatement(this, cache, queryString, params, query);
  };
}

/** `prepare()` of a select or relational query on our db: how `$cached()` on the prepared query keys it. */
function recordReadNamespaces(): void {
  const select = PgSelectBase.prototype as unknown as {
    _prepare(this: SelectBuilderInternals, name?: string): PreparedReadInternals;
  };
  const originalSelectPrepare = select._prepare;
  select._prepare = function _prepare(name?: string) {
    const prepared = originalSelectPrepare.call(this, name);
    if (cacheOfSession(this.session)) {
      const { fields } = this.config;
      prepared[kReadNamespace] = () => ["drizzle:select", selectionShape(fields), prepared.getQuery().sql];
    }
    return prepared;
  };

  const relational = PgRelationalQuery.prototype as unknown as {
    _prepare(this: RelationalQueryInternals, name?: string): PreparedReadInternals;
  };
  const originalRelationalPrepare = relational._prepare;
  relational._prepare = function _prepare(name?: string) {
    const prepared = originalRelationalPrepare.call(this, name);
    if (cacheOfSession(this.session)) {
      prepared[kReadNamespace] = () => [
        "drizzle:relational",
        relationalShape(this.mode, this._getQuery().selection),
        prepared.getQuery().sql,
      ];
    }
    return prepared;
  };
}

/** `db.execute()` keeps its session only in a closure; `$cached()` on the PgRaw needs its cache and client. */
function recordRawSessions(): void {
  const database = PgDatabase.prototype as unknown as {
    execute(this: { session: unknown }, query: unknown): RawQueryInternals;
  };
  const originalExecute = database.execute;
  database.execute = function execute(query) {
    const raw = originalExecute.call(this, query);
    (raw as { [kRawSession]?: unknown })[kRawSession] = this.session;
    return raw;
  };
}

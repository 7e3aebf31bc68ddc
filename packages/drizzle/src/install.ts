import type { CacheWatch, Mutation, TableInput } from "@pgcachewatch/core";
import { DrizzleQueryError } from "drizzle-orm";
import {
  PgDatabase,
  PgDeleteBase,
  PgInsertBase,
  PgPreparedQuery,
  PgSelectBase,
  PgSelectQueryBuilderBase,
  PgUpdateBase,
} from "drizzle-orm/pg-core";
import { PgRelationalQuery } from "drizzle-orm/pg-core/query-builders/query";
import {
  type CachedQueryOptions,
  cachedRelationalQuery,
  cachedSelect,
  tablesForLoad,
} from "./cached-query.js";
import { type MutationBuilderInternals, writtenTables } from "./mutation-tables.js";
import { cacheOfSession, type PgCacheWatchCache } from "./pg-cache-watch-cache.js";
import { queryKey } from "./query-key.js";
import { installSelectSourceRecording } from "./select-sources.js";
import {
  currentScope,
  runInTransactionScope,
  type TransactionScope,
  transactionOf,
} from "./transaction-scope.js";

/** The builder a prepared query came from, so the cache path can derive its tables. */
const kSourceBuilder = Symbol.for("@pgcachewatch/drizzle:sourceBuilder");
const kInstalled = Symbol.for("@pgcachewatch/drizzle:installed");

interface PreparedQueryInternals {
  readonly cache: unknown;
  readonly client?: unknown;
  readonly queryMetadata: { type: "select" | "update" | "delete" | "insert"; tables: string[] } | undefined;
  readonly cacheConfig:
    | { enable: boolean; tag?: string; autoInvalidate?: boolean; config?: DrizzleCacheConfig }
    | undefined;
  [kSourceBuilder]?: unknown;
  queryWithCache(queryString: string, params: unknown[], query: () => Promise<unknown>): Promise<unknown>;
}

interface DrizzleCacheConfig {
  ex?: number;
  px?: number;
  exat?: number;
  pxat?: number;
}

type Prototype = Record<PropertyKey, unknown>;

/**
 * Teach Drizzle's pg-core classes about PGCacheWatch. Every patch is inert unless the query's session
 * was created with a {@link PgCacheWatchCache}, so other db instances behave exactly as before.
 */
export function installDrizzleIntegration(): void {
  const marker = PgPreparedQuery.prototype as unknown as Prototype;
  if (marker[kInstalled]) return;
  marker[kInstalled] = true;

  installSelectSourceRecording();

  (PgSelectQueryBuilderBase.prototype as unknown as Prototype).$cached = function $cached(
    options?: CachedQueryOptions,
  ) {
    return cachedSelect(this as never, options);
  };
  (PgRelationalQuery.prototype as unknown as Prototype).$cached = function $cached(
    options?: CachedQueryOptions,
  ) {
    return cachedRelationalQuery(this as never, options);
  };

  for (const builder of [PgSelectBase, PgInsertBase, PgUpdateBase, PgDeleteBase]) {
    const proto = builder.prototype as unknown as {
      _prepare(this: { session?: unknown }, name?: string): PreparedQueryInternals;
    };
    const original = proto._prepare;
    proto._prepare = function _prepare(name?: string) {
      const prepared = original.call(this, name);
      if (cacheOfSession(this.session)) prepared[kSourceBuilder] = this;
      return prepared;
    };
  }

  const prepared = PgPreparedQuery.prototype as unknown as PreparedQueryInternals;
  const originalQueryWithCache = prepared.queryWithCache;
  prepared.queryWithCache = function queryWithCache(
    this: PreparedQueryInternals,
    queryString,
    params,
    query,
  ) {
    const cache = cacheOfSession(this);
    if (cache === undefined || this.queryMetadata === undefined) {
      return originalQueryWithCache.call(this, queryString, params, query);
    }
    const run = () => wrapDriverErrors(queryString, params, query);
    if (this.queryMetadata.type === "select") {
      return this.cacheConfig?.enable
        ? loadDrizzleCachedSelect(this, cache, queryString, params, run)
        : run();
    }
    return runMutation(this, cache.watch, run);
  };

  const database = PgDatabase.prototype as unknown as {
    transaction(
      this: { session: object },
      callback: (tx: { session: object }) => Promise<unknown>,
      config?: unknown,
    ): Promise<unknown>;
  };
  const originalTransaction = database.transaction;
  database.transaction = function transaction(callback, config) {
    const cache = cacheOfSession(this.session);
    // Not ours, or a nested transaction on a transaction's session: the enclosing scope completes the writes.
    if (cache === undefined || transactionOf(cache.watch, { session: this.session }) !== undefined) {
      return originalTransaction.call(this, callback, config);
    }
    const scope: TransactionScope = {
      watch: cache.watch,
      parent: currentScope(),
      session: undefined,
      pending: [],
    };
    return runInTransactionScope(scope, async () => {
      try {
        return await originalTransaction.call(
          this,
          (tx) => {
            scope.session = tx.session;
            return callback(tx);
          },
          config,
        );
      } finally {
        // After COMMIT (or ROLLBACK: invalidating is always safe).
        for (const mutation of scope.pending.splice(0)) mutation.complete();
      }
    });
  };
}

async function wrapDriverErrors(
  queryString: string,
  params: unknown[],
  query: () => Promise<unknown>,
): Promise<unknown> {
  try {
    return await query();
  } catch (error) {
    throw new DrizzleQueryError(queryString, params, error as Error);
  }
}

/** Rule 4 for Drizzle's insert/update/delete: mark at start, invalidate when done (after COMMIT in a transaction). */
async function runMutation(
  prepared: PreparedQueryInternals,
  watch: CacheWatch,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const builder = prepared[kSourceBuilder] as MutationBuilderInternals | undefined;
  const tables: TableInput[] = builder
    ? writtenTables(builder, watch.defaultSchema)
    : (prepared.queryMetadata?.tables ?? []);
  if (tables.length === 0) return run();
  const mutation: Mutation = watch.beginMutation(tables);
  const transaction = transactionOf(watch, { client: prepared.client });
  if (transaction) transaction.pending.push(mutation);
  try {
    return await run();
  } finally {
    if (!transaction) mutation.complete();
  }
}

/** Drizzle's `$withCache()` (or `global`) select, through the engine: complete tables, fill guard, isolation. */
function loadDrizzleCachedSelect(
  prepared: PreparedQueryInternals,
  cache: PgCacheWatchCache,
  queryString: string,
  params: unknown[],
  run: () => Promise<unknown>,
): Promise<unknown> {
  const { watch } = cache;
  const config = prepared.cacheConfig ?? { enable: true };
  const builder = prepared[kSourceBuilder];
  let tables: readonly TableInput[] | undefined;
  if (config.autoInvalidate === false) {
    // The user opted out of invalidation on writes: the entry lives until its TTL or a manual invalidate.
    tables = [];
  } else {
    tables =
      builder === undefined
        ? undefined
        : tablesForLoad(cache.derivations.derive(queryString, builder), undefined);
  }
  const key =
    config.tag !== undefined
      ? `drizzle:tag\u0000${config.tag}`
      : queryKey("withCache", "", queryString, params);
  return watch.load(
    {
      key: tables === undefined ? undefined : key,
      tables,
      inTransaction: transactionOf(watch, { client: prepared.client }) !== undefined,
      ttl: ttlOf(config.config),
      tags: config.tag !== undefined ? [config.tag] : undefined,
    },
    async () => plainResult(await run()),
  );
}

/** Keep what Drizzle reads from a driver result, as plain data the engine can copy for each caller. */
function plainResult(result: unknown): unknown {
  if (typeof result !== "object" || result === null || Array.isArray(result)) return result;
  const { rows, rowCount, command, fields } = result as {
    rows?: unknown;
    rowCount?: unknown;
    command?: unknown;
    fields?: unknown;
  };
  return {
    rows,
    rowCount,
    command,
    fields: Array.isArray(fields) ? fields.map((field) => ({ ...field })) : fields,
  };
}

function ttlOf(config: DrizzleCacheConfig | undefined): number | undefined {
  if (!config) return undefined;
  if (config.px !== undefined) return config.px;
  if (config.ex !== undefined) return config.ex * 1000;
  if (config.pxat !== undefined) return Math.max(1, config.pxat - Date.now());
  if (config.exat !== undefined) return Math.max(1, config.exat * 1000 - Date.now());
  return undefined;
}

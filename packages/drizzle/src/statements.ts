import type { CacheWatch } from "@pgcachewatch/core";
import { queryKey } from "@pgcachewatch/core/adapter";
import { DrizzleQueryError } from "drizzle-orm";
import { connectionOf } from "./drizzle-internals.js";
import type { PgCacheWatchCache } from "./pg-cache-watch-cache.js";

/** The parts of Drizzle's prepared query that every statement passes through (`queryWithCache`). */
export interface PreparedStatementInternals {
  readonly cache: unknown;
  /** The session's client: a pg.Pool, a pg.Client, or the PoolClient a transaction holds. */
  readonly client?: unknown;
  readonly queryMetadata: { type: "select" | "update" | "delete" | "insert"; tables: string[] } | undefined;
  cacheConfig:
    | { enable: boolean; tag?: string; autoInvalidate?: boolean; config?: DrizzleCacheConfig }
    | undefined;
}

interface DrizzleCacheConfig {
  ex?: number;
  px?: number;
  exat?: number;
  pxat?: number;
}

/**
 * One statement Drizzle sends on a db backed by PGCacheWatch: a select, a write, `db.execute(...)`,
 * or the BEGIN / COMMIT / ROLLBACK / SAVEPOINT of `db.transaction()`. It goes through the engine,
 * which tracks the connection's transaction, invalidates what a write touches (at once, or when
 * the transaction ends) and records what a cached read ran. Drizzle's own `$withCache()` reads
 * are loads of the engine.
 */
export function routeStatement(
  prepared: PreparedStatementInternals,
  cache: PgCacheWatchCache,
  queryString: string,
  params: unknown[],
  query: () => Promise<unknown>,
): Promise<unknown> {
  const { watch } = cache;
  const connection = connectionOf(prepared.client);
  const config = prepared.cacheConfig;
  if (config?.enable === true && prepared.queryMetadata?.type === "select") {
    return loadWithDrizzleCacheConfig(watch, config, connection, queryString, params, query);
  }
  return runStatement(watch, connection, queryString, params, query);
}

function runStatement(
  watch: CacheWatch,
  connection: object | undefined,
  queryString: string,
  params: unknown[],
  query: () => Promise<unknown>,
): Promise<unknown> {
  // wrapDriverErrors sends the statement synchronously, as runStatement requires.
  return watch.runStatement({ sql: queryString, params, connection }, () =>
    wrapDriverErrors(queryString, params, query),
  );
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

/** Drizzle's `$withCache()` (or `global`) select, through the engine: statement-derived tables, fill guard, isolation. */
function loadWithDrizzleCacheConfig(
  watch: CacheWatch,
  config: NonNullable<PreparedStatementInternals["cacheConfig"]>,
  connection: object | undefined,
  queryString: string,
  params: unknown[],
  query: () => Promise<unknown>,
): Promise<unknown> {
  // The user opted out of invalidation on writes: the entry lives until its TTL or a manual
  // invalidation, so the statement is not reported (its tables would become dependencies).
  const manual = config.autoInvalidate === false;
  return watch.load(
    {
      key:
        config.tag !== undefined
          ? `drizzle:tag\u0000${config.tag}`
          : queryKey(["drizzle:withCache", queryString], params),
      tables: manual ? [] : undefined,
      inTransaction: watch.inTransaction(connection),
      ttl: ttlOf(config.config),
      tags: config.tag !== undefined ? [config.tag] : undefined,
      name: queryString,
    },
    async () =>
      plainResult(
        await (manual
          ? wrapDriverErrors(queryString, params, query)
          : runStatement(watch, connection, queryString, params, query)),
      ),
  );
}

/** Keep what Drizzle and a caller read from a driver result, as plain data the engine can copy for each caller. */
export function plainResult(result: unknown): unknown {
  if (typeof result !== "object" || result === null || Array.isArray(result)) return result;
  const { rows, rowCount, command, oid, fields } = result as {
    rows?: unknown;
    rowCount?: unknown;
    command?: unknown;
    oid?: unknown;
    fields?: unknown;
  };
  return {
    command,
    rowCount,
    oid,
    rows,
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

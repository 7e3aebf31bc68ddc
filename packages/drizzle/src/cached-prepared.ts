import { queryKey } from "@pgcachewatch/core/adapter";
import { fillPlaceholders } from "drizzle-orm";
import { type CachedQueryOptions, loadCached } from "./cached-query.js";
import { CacheNotConfiguredError } from "./errors.js";
import { cacheOfSession } from "./pg-cache-watch-cache.js";
import type { PreparedStatementInternals } from "./statements.js";

/**
 * How a prepared read's rows are keyed: the namespace of the builder it came from (so a prepared
 * query and the same builder's `$cached()` share entries), computed once per prepared query.
 */
export const kReadNamespace = Symbol.for("@pgcachewatch/drizzle:readNamespace");

export interface PreparedReadInternals extends PreparedStatementInternals {
  /** Set by `prepare()` on a select or relational query: builds the namespace on first use. */
  [kReadNamespace]?: (() => readonly string[]) | readonly string[];
  getQuery(): { sql: string; params: unknown[] };
  execute(placeholderValues?: Record<string, unknown>): Promise<unknown>;
}

/**
 * `db.select()...prepare("name").$cached({ id: 1 })`: the SQL text and result shape are fixed by
 * the prepared query, so a hit only encodes the placeholder values.
 */
export function cachedPrepared(
  prepared: PreparedReadInternals,
  placeholderValues: Record<string, unknown> | undefined,
  options: CachedQueryOptions | undefined,
): Promise<unknown> {
  if (!cacheOfSession(prepared)) return Promise.reject(new CacheNotConfiguredError());
  const values = placeholderValues ?? {};
  const run = () => executeBypassingDrizzleCache(prepared, values);
  let namespace = prepared[kReadNamespace];
  if (namespace === undefined) {
    // Not a read Drizzle built (an insert, update or delete): nothing to cache, it just runs.
    return run();
  }
  if (typeof namespace === "function") {
    namespace = namespace();
    prepared[kReadNamespace] = namespace;
  }
  const query = prepared.getQuery();
  return loadCached(
    {
      session: prepared,
      key: queryKey(namespace, fillPlaceholders(query.params, values)),
      sql: query.sql,
      run,
    },
    options,
  );
}

/** Run without Drizzle's own cache path (`$withCache().prepare()`): the engine already wraps it. */
function executeBypassingDrizzleCache(
  prepared: PreparedReadInternals,
  values: Record<string, unknown>,
): Promise<unknown> {
  const saved = prepared.cacheConfig;
  prepared.cacheConfig = undefined;
  try {
    // execute() reaches queryWithCache synchronously, so the override only affects this run.
    return prepared.execute(values);
  } finally {
    prepared.cacheConfig = saved;
  }
}

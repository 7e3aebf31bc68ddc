import type { TableInput } from "@pgcachewatch/core";
import type { SQL } from "drizzle-orm";
import type { PgDialect } from "drizzle-orm/pg-core";
import { selectionShape } from "./drizzle-internals.js";
import { CacheNotConfiguredError } from "./errors.js";
import { cacheOfSession } from "./pg-cache-watch-cache.js";
import { queryKey } from "./query-key.js";
import type { TableDerivation } from "./table-derivation.js";
import { transactionOf } from "./transaction-scope.js";

/** Options of `$cached()`. */
export interface CachedQueryOptions {
  /** Time to live of this entry in milliseconds (a safety net; invalidation does the real work). */
  readonly ttl?: number;
  /** Tags to invalidate this entry by, with `watch.invalidate({ tags })` or `db.$cache.invalidate({ tags })`. */
  readonly tag?: string | readonly string[];
  /**
   * Tables the query depends on beyond those derived from it. Needed for queries with raw SQL text
   * naming tables (`sql\`(select count(*) from orders)\``): without it such a query is not cached.
   */
  readonly tables?: readonly TableInput[];
  /** Abort waiting for the result (other callers of the same load are unaffected). */
  readonly signal?: AbortSignal;
}

/** The parts of a select builder `$cached()` uses (Drizzle marks most of them internal). */
interface SelectBuilderInternals {
  readonly session: object | undefined;
  readonly dialect: PgDialect;
  readonly config: { readonly fields: Record<string, unknown> };
  cacheConfig: unknown;
  getSQL(): SQL;
  execute(): Promise<unknown>;
}

interface RelationSelection {
  readonly tsKey: string;
  readonly selection?: readonly RelationSelection[];
}

/** The parts of a relational query (`db.query.x.findMany()`) `$cached()` uses. */
interface RelationalQueryInternals {
  readonly session: object | undefined;
  readonly dialect: PgDialect;
  readonly mode: "many" | "first";
  _getQuery(): { sql: SQL; selection: readonly RelationSelection[] };
  execute(): Promise<unknown>;
}

/** Tables to load with: the derivation joined with the user's, or undefined when they cannot be known. */
export function tablesForLoad(
  derivation: TableDerivation,
  extra: readonly TableInput[] | undefined,
): readonly TableInput[] | undefined {
  // A statement that writes (a data-modifying CTE, raw INSERT text) is never served from a cache.
  if (derivation.writes) return undefined;
  if (!derivation.known) return extra;
  return extra === undefined ? derivation.tables : [...derivation.tables, ...extra];
}

function tagsOf(options: CachedQueryOptions): readonly string[] | undefined {
  if (options.tag === undefined) return undefined;
  return typeof options.tag === "string" ? [options.tag] : options.tag;
}

export function cachedSelect(
  builder: SelectBuilderInternals,
  options: CachedQueryOptions = {},
): Promise<unknown> {
  const cache = cacheOfSession(builder.session);
  if (!cache) return Promise.reject(new CacheNotConfiguredError());
  const { watch } = cache;
  const sql = builder.getSQL();
  const query = builder.dialect.sqlToQuery(sql);
  const tables = tablesForLoad(cache.derivations.derive(query.sql, sql), options.tables);
  const shape = selectionShape(builder.config.fields);
  return watch.load(
    {
      // Unknown tables: not cached (no key), rather than a load whose result is dropped.
      key: tables === undefined ? undefined : queryKey("select", shape, query.sql, query.params),
      tables,
      inTransaction: transactionOf(watch, { session: builder.session }) !== undefined,
      ttl: options.ttl,
      tags: tagsOf(options),
      signal: options.signal,
    },
    () => executeBypassingDrizzleCache(builder),
  );
}

export function cachedRelationalQuery(
  query: RelationalQueryInternals,
  options: CachedQueryOptions = {},
): Promise<unknown> {
  const cache = cacheOfSession(query.session);
  if (!cache) return Promise.reject(new CacheNotConfiguredError());
  const { watch } = cache;
  const built = query._getQuery();
  const rendered = query.dialect.sqlToQuery(built.sql);
  const tables = tablesForLoad(cache.derivations.derive(rendered.sql, built.sql), options.tables);
  const shape = `${query.mode}:${JSON.stringify(relationalShape(built.selection))}`;
  return watch.load(
    {
      key: tables === undefined ? undefined : queryKey("relational", shape, rendered.sql, rendered.params),
      tables,
      inTransaction: transactionOf(watch, { session: query.session }) !== undefined,
      ttl: options.ttl,
      tags: tagsOf(options),
      signal: options.signal,
    },
    () => query.execute(),
  );
}

function relationalShape(selection: readonly RelationSelection[]): unknown[] {
  return selection.map((item) =>
    item.selection ? [item.tsKey, relationalShape(item.selection)] : item.tsKey,
  );
}

/** Run the builder without Drizzle's own cache path (`$withCache()` or `global`): the engine already wraps it. */
function executeBypassingDrizzleCache(builder: SelectBuilderInternals): Promise<unknown> {
  const saved = builder.cacheConfig;
  builder.cacheConfig = { enable: false };
  try {
    // execute() prepares synchronously, so the override only affects this run.
    return builder.execute();
  } finally {
    builder.cacheConfig = saved;
  }
}

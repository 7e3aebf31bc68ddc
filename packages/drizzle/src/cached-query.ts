import type { CacheWatch, TableInput } from "@pgcachewatch/core";
import { queryKey } from "@pgcachewatch/core/adapter";
import type { SQL } from "drizzle-orm";
import type { PgDialect } from "drizzle-orm/pg-core";
import { connectionOf, hasWritingCte, relationalShape, selectionShape } from "./drizzle-internals.js";
import { CacheNotConfiguredError } from "./errors.js";
import { cacheOfSession } from "./pg-cache-watch-cache.js";

/** Options of `$cached()`. */
export interface CachedQueryOptions {
  /** Time to live of this entry in milliseconds (a safety net; invalidation does the real work). */
  readonly ttl?: number;
  /** Tags to invalidate this entry by, with `watch.invalidate({ tags })` or `db.$cache.invalidate({ tags })`. */
  readonly tag?: string | readonly string[];
  /**
   * Tables the result depends on beyond those of the statement that ran. The statement's own tables
   * are found by PostgreSQL's parser and catalog; name tables here only for a statement that is
   * opaque to them (a user function that reads a table, a materialized view): it is then cached,
   * and invalidated by writes to these tables.
   */
  readonly tables?: readonly TableInput[];
  /**
   * What the result is specific to beyond the query: a tenant id, a role name. Part of the key. A
   * query whose result depends on the session (row-level security, `current_user`,
   * `current_setting()`) is cached only with a scope.
   */
  readonly scope?: string;
  /** Abort waiting for the result (other callers of the same load are unaffected). */
  readonly signal?: AbortSignal;
}

/** The parts of a Drizzle session `$cached()` uses: its cache and the client it sends statements on. */
interface SessionInternals {
  readonly client?: unknown;
}

/** The parts of a select builder `$cached()` uses (Drizzle marks most of them internal). */
export interface SelectBuilderInternals {
  readonly session: SessionInternals | undefined;
  readonly dialect: PgDialect;
  readonly config: {
    readonly fields: Record<string, unknown>;
    readonly withList?: readonly { readonly _: { readonly sql: SQL } }[];
  };
  cacheConfig: unknown;
  getSQL(): SQL;
  execute(): Promise<unknown>;
}

export interface RelationSelection {
  readonly tsKey: string;
  readonly selection?: readonly RelationSelection[];
}

/** The parts of a relational query (`db.query.x.findMany()`) `$cached()` uses. */
export interface RelationalQueryInternals {
  readonly session: SessionInternals | undefined;
  readonly dialect: PgDialect;
  readonly mode: "many" | "first";
  _getQuery(): { sql: SQL; selection: readonly RelationSelection[] };
  execute(): Promise<unknown>;
}

/** What a cached read needs once its key is built. */
interface CachedRead {
  readonly session: SessionInternals | undefined;
  readonly key: string | undefined;
  readonly sql: string;
  readonly run: () => Promise<unknown>;
}

/** One cached read through the engine: the session's cache, the connection's transaction state, the options. */
export function loadCached(read: CachedRead, options: CachedQueryOptions | undefined): Promise<unknown> {
  const cache = cacheOfSession(read.session);
  if (!cache) return Promise.reject(new CacheNotConfiguredError());
  return loadWith(cache.watch, read, connectionOf(read.session?.client), options);
}

export function loadWith(
  watch: CacheWatch,
  read: Omit<CachedRead, "session">,
  connection: object | undefined,
  options: CachedQueryOptions | undefined,
): Promise<unknown> {
  const tables = options?.tables;
  return watch.load(
    {
      key: tables === undefined ? read.key : withDeclaredTables(read.key, tables),
      tables,
      scope: options?.scope,
      // Decided by the connection the read runs on: another request's transaction on a shared
      // pg.Client makes this read see its uncommitted rows.
      inTransaction: watch.inTransaction(connection),
      ttl: options?.ttl,
      tags: tagsOf(options?.tag),
      signal: options?.signal,
      name: read.sql,
    },
    read.run,
  );
}

/**
 * Declared tables are part of the key: an entry stored without them must not answer a read that
 * asked to be invalidated by them too.
 */
function withDeclaredTables(key: string | undefined, tables: readonly TableInput[]): string | undefined {
  return key === undefined ? undefined : `${key}\u0001tables\u0000${JSON.stringify(tables)}`;
}

function tagsOf(tag: string | readonly string[] | undefined): readonly string[] | undefined {
  if (tag === undefined) return undefined;
  return typeof tag === "string" ? [tag] : tag;
}

/** `db.select()...$cached()`: the key costs Drizzle's own rendering (`toSQL()`) plus the parameters. */
export function cachedSelect(
  builder: SelectBuilderInternals,
  options?: CachedQueryOptions,
): Promise<unknown> {
  const query = builder.dialect.sqlToQuery(builder.getSQL());
  return loadCached(
    {
      session: builder.session,
      key: hasWritingCte(builder)
        ? undefined
        : queryKey(["drizzle:select", selectionShape(builder.config.fields), query.sql], query.params),
      sql: query.sql,
      run: () => executeBypassingDrizzleCache(builder),
    },
    options,
  );
}

export function cachedRelationalQuery(
  query: RelationalQueryInternals,
  options?: CachedQueryOptions,
): Promise<unknown> {
  const built = query._getQuery();
  const rendered = query.dialect.sqlToQuery(built.sql);
  const shape = relationalShape(query.mode, built.selection);
  return loadCached(
    {
      session: query.session,
      key: queryKey(["drizzle:relational", shape, rendered.sql], rendered.params),
      sql: rendered.sql,
      run: () => query.execute(),
    },
    options,
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

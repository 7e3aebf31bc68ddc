import type { CacheWatch, TableInput } from "@pgcachewatch/core";
import { entityKind, getTableName, is, Table } from "drizzle-orm";
import { Cache, type MutationOption } from "drizzle-orm/cache/core";
import { tableOriginalName, tableSchema } from "./drizzle-internals.js";

export interface PgCacheWatchCacheOptions {
  /**
   * Cache every select builder query, as Drizzle's `strategy: 'all'` does (opt out per query with
   * `$withCache(false)`). Default false: only `$cached()` and `$withCache()` queries are cached.
   */
  readonly global?: boolean;
}

/**
 * Drizzle's `Cache`, backed by a {@link CacheWatch}. Pass it to `drizzle({ client, cache })`: it gives
 * `$cached()` its engine, sends every statement of that db through the engine (which derives the
 * tables a read depends on, invalidates what a write touches at once or after its transaction, and
 * tracks each connection's transactions), routes Drizzle's own `$withCache()` reads through the
 * engine's loads, and turns `db.$cache.invalidate(...)` into engine invalidation.
 */
export class PgCacheWatchCache extends Cache {
  static override readonly [entityKind]: string = "PgCacheWatchCache";
  readonly watch: CacheWatch;
  readonly #strategy: "explicit" | "all";

  constructor(watch: CacheWatch, options: PgCacheWatchCacheOptions = {}) {
    super();
    this.watch = watch;
    this.#strategy = options.global === true ? "all" : "explicit";
    // Drizzle copies onMutate onto `db.$cache.invalidate` unbound.
    this.onMutate = this.onMutate.bind(this);
  }

  override strategy(): "explicit" | "all" {
    return this.#strategy;
  }

  /**
   * Unused by Drizzle on a db with this cache: reads go through the engine's `load()`, which must wrap
   * the query itself to guard the fill. Always a miss for any other caller.
   */
  override async get(
    _key: string,
    _tables: string[],
    _isTag: boolean,
    _isAutoInvalidate?: boolean,
  ): Promise<undefined> {
    return undefined;
  }

  /** Unused for the same reason as {@link get}: there is no second store to put into. */
  override async put(_key: string, _response: unknown, _tables: string[], _isTag: boolean): Promise<void> {}

  /**
   * `db.$cache.invalidate({ tables, tags })`. Drizzle's builders no longer call this for writes on a db
   * with this cache (the engine marks and invalidates around each statement instead).
   */
  override async onMutate(params: MutationOption): Promise<void> {
    const tables = toArray(params.tables).map((table) => toTableInput(table, this.watch.defaultSchema));
    const tags = toArray(params.tags);
    if (tables.length === 0 && tags.length === 0) return;
    this.watch.invalidate({ tables, tags });
  }
}

/** `drizzle({ client, cache: pgCacheWatchCache(watch) })`. */
export function pgCacheWatchCache(watch: CacheWatch, options?: PgCacheWatchCacheOptions): PgCacheWatchCache {
  return new PgCacheWatchCache(watch, options);
}

/** The engine-backed cache of a Drizzle session, if it has one. */
export function cacheOfSession(session: unknown): PgCacheWatchCache | undefined {
  const cache = (session as { cache?: unknown } | undefined)?.cache;
  return cache !== undefined && is(cache, PgCacheWatchCache) ? cache : undefined;
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function toTableInput(table: Table | string, defaultSchema: string): TableInput {
  if (typeof table === "string") return table;
  if (is(table, Table)) {
    return {
      schema: tableSchema(table) ?? defaultSchema,
      table: tableOriginalName(table),
    };
  }
  return getTableName(table);
}

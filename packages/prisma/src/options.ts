import type { CacheWatch, CacheWatchOptions, Logger, TableInput } from "@pgcachewatch/core";
import { InvalidCacheOptionError } from "./errors.js";

/** Model operations whose results are cached. */
export const CACHED_OPERATIONS = [
  "findUnique",
  "findUniqueOrThrow",
  "findFirst",
  "findFirstOrThrow",
  "findMany",
  "count",
  "aggregate",
  "groupBy",
] as const;
export type CachedOperation = (typeof CACHED_OPERATIONS)[number];

/** Model operations that write (their SQL invalidates the tables it writes when it completes). */
export const MUTATION_OPERATIONS = [
  "create",
  "createMany",
  "createManyAndReturn",
  "update",
  "updateMany",
  "updateManyAndReturn",
  "upsert",
  "delete",
  "deleteMany",
] as const;
export type MutationOperation = (typeof MUTATION_OPERATIONS)[number];

/** Per-call cache settings: `{ cache: { ttl: 60_000 } }`, or `{ cache: false }` to skip the cache. */
export interface CacheCallOptions {
  /** Expiry of this entry in ms, overriding the extension's and the engine's ttl (0 = none). */
  readonly ttl?: number;
  /** Tags for manual invalidation: `prisma.$cacheWatch.invalidate({ tags })`. */
  readonly tags?: readonly string[];
  /**
   * What the result is specific to (a tenant id, a role name): part of the key. A read whose SQL
   * depends on the session (a table with row-level security, `current_user`, `current_setting()`)
   * is cached only with a scope. Overrides the extension's `scope`.
   */
  readonly scope?: string;
}

/** The argument every cached model operation accepts on the extended client. */
export interface CacheArgument {
  /** `false` runs this query against the database without reading or filling the cache. */
  cache?: false | CacheCallOptions;
}

export interface PgCacheWatchOptions {
  /**
   * An engine to use (started if it is not). Without it, one engine per connection string is created
   * and shared by every client extended without one; the first such call's `engine` options win.
   */
  readonly watch?: CacheWatch;
  /** Where the engine's listener connects when no `watch` is given. Default: DATABASE_URL. */
  readonly connectionString?: string;
  /** Further options for the engine created when no `watch` is given. */
  readonly engine?: Omit<CacheWatchOptions, "connectionString">;
  /** Cache only these models (Prisma model names, e.g. "User"). Default: every model. Writes to any model always invalidate. */
  readonly models?: readonly string[];
  /** Cache only these operations. Default: all of {@link CACHED_OPERATIONS}. */
  readonly operations?: readonly CachedOperation[];
  /** Default expiry of entries made through this client, in ms (0 = none). Default: the engine's ttl. */
  readonly ttl?: number;
  /**
   * Cache `$queryRaw` and `$queryRawUnsafe` too (under the tables their SQL reads; a statement the
   * analyzer cannot see through is not cached). Default true. `$queryRawCached` always caches.
   */
  readonly cacheRawQueries?: boolean;
  /**
   * The scope of every read made through this client, evaluated per call in the caller's async
   * context (e.g. the tenant of the current request from an AsyncLocalStorage); undefined = none.
   * See {@link CacheCallOptions.scope}.
   */
  readonly scope?: () => string | undefined;
  /** Separates the keys of clients that share one engine but reach different databases. Default "". */
  readonly namespace?: string;
  /** Where this extension reports what it skipped or could not verify. Default: silent. */
  readonly logger?: Logger;
}

export function checkTtl(ttl: unknown, where: string): number | undefined {
  if (ttl === undefined) return undefined;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl < 0) {
    throw new InvalidCacheOptionError(`${where} ttl must be a finite number of ms >= 0, got ${String(ttl)}`);
  }
  return ttl;
}

/** Validate a per-call `cache` value coming from untyped callers too. */
export function checkCallOptions(value: unknown): false | CacheCallOptions {
  if (value === false) return false;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidCacheOptionError(
      `cache must be false or { ttl?, tags?, scope? }, got ${JSON.stringify(value)}`,
    );
  }
  const { ttl, tags, scope, ...rest } = value as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0)
    throw new InvalidCacheOptionError(`unknown cache option ${unknownKeys.join(", ")}`);
  if (tags !== undefined && (!Array.isArray(tags) || !tags.every((t) => typeof t === "string"))) {
    throw new InvalidCacheOptionError("cache.tags must be an array of strings");
  }
  if (scope !== undefined && typeof scope !== "string") {
    throw new InvalidCacheOptionError("cache.scope must be a string");
  }
  const checkedTtl = checkTtl(ttl, "cache.");
  return {
    ...(checkedTtl === undefined ? {} : { ttl: checkedTtl }),
    ...(tags === undefined ? {} : { tags: tags as string[] }),
    ...(scope === undefined ? {} : { scope }),
  };
}

/** A query built with Prisma's `Prisma.sql` template tag (structurally, so any Prisma copy fits). */
export interface RawSqlQuery {
  readonly sql: string;
  readonly strings: readonly string[];
  readonly values: readonly unknown[];
}

/** How a raw query is cached. Its dependencies come from its SQL; `tables` only adds to them. */
export interface RawCacheOptions extends CacheCallOptions {
  /**
   * Tables the result depends on besides those its SQL reads (`"users"`, `"audit.log"` or
   * `{ schema, table }`): needed only for a statement the analyzer cannot see through (a function
   * that reads tables), which is otherwise not cached.
   */
  readonly tables?: readonly TableInput[];
}

export function checkRawOptions(value: unknown): RawCacheOptions {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null) {
    throw new InvalidCacheOptionError("$queryRawCached takes { tables?, ttl?, tags?, scope? }");
  }
  const { tables, ...rest } = value as Record<string, unknown>;
  if (tables !== undefined && (!Array.isArray(tables) || tables.length === 0)) {
    throw new InvalidCacheOptionError("$queryRawCached: tables, when given, must be a non-empty list");
  }
  const callOptions = checkCallOptions(rest);
  return {
    ...(callOptions === false ? {} : callOptions),
    ...(tables === undefined ? {} : { tables: tables as TableInput[] }),
  };
}

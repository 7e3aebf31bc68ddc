import type { RawCacheOptions } from "./options.js";
import type { ExecuteRequest, PrismaRequest } from "./prisma-internals.js";

/** A call our query hook let through to be cached, waiting for it at `_executeRequest`. */
export interface CachedCall {
  readonly cache: CallExecutor;
  readonly ttl: number | undefined;
  readonly tags: readonly string[] | undefined;
  readonly tables: RawCacheOptions["tables"] | undefined;
  readonly scope: string | undefined;
}

/** Runs a marked call through the engine (the extended client's cache). */
export interface CallExecutor {
  execute(
    client: unknown,
    request: PrismaRequest,
    call: CachedCall,
    run: () => Promise<unknown>,
  ): Promise<unknown>;
}

/**
 * Calls to cache, by the request object Prisma passes from the first query extension down to
 * `_executeRequest` (the same object all the way, so this marks one call exactly).
 */
export const cachedCalls = new WeakMap<object, CachedCall>();

/**
 * The innermost point: every query extension has run (those added after pgCacheWatch() too), so
 * the key is made of what reaches the database. A request nobody marked runs as Prisma would.
 */
export function cachingExecuteRequest(original: ExecuteRequest): ExecuteRequest {
  return function executeRequest(this: unknown, request: PrismaRequest) {
    const call = typeof request === "object" && request !== null ? cachedCalls.get(request) : undefined;
    if (call === undefined) return original.call(this, request);
    cachedCalls.delete(request);
    return call.cache.execute(this, request, call, () => original.call(this, request));
  };
}

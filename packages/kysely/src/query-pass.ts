import type { QueryId } from "kysely";
import { type ResolvedCacheOptions, resolveCacheOptions } from "./cached-query-options.js";

/**
 * One trip of a query through Kysely's plugins. The cache plugin opens it, `cached()` markers later
 * in the same synchronous plugin run write their options into it, and the wrapped driver takes it.
 *
 * Kysely compiles a query and asks the driver for a connection in one synchronous run (builder
 * `execute()` -> executor -> connection provider -> `Driver.acquireConnection`). So the pass that is
 * open when `acquireConnection` starts belongs to the query that is acquiring, and the connection
 * double-checks by `queryId` before serving anything from the cache.
 */
export interface QueryPass {
  /** The cache plugin that opened the pass. */
  readonly owner: object;
  readonly queryId: QueryId;
  /** Set when the query opted in; `null` when an inner `cached(false)` opted it out again. */
  options: ResolvedCacheOptions | null | undefined;
}

interface PassSlot {
  current: QueryPass | undefined;
}

// Shared through the global registry so that two copies of this module (ESM and CJS in one
// process) still see the same pass.
const SLOT_KEY = Symbol.for("@pgcachewatch/kysely.query-pass");
const globalSlots = globalThis as unknown as Record<symbol, PassSlot | undefined>;
const slot: PassSlot = globalSlots[SLOT_KEY] ?? { current: undefined };
globalSlots[SLOT_KEY] = slot;

export function openPass(owner: object, queryId: QueryId): void {
  slot.current = { owner, queryId, options: undefined };
}

/** Record a marker's options on the open pass of `queryId`. False when no pass is open for it. */
export function markPass(queryId: QueryId, options: ResolvedCacheOptions | null): boolean {
  const pass = slot.current;
  if (pass === undefined || pass.queryId !== queryId) return false;
  // An inner marker refines an outer one (`db.withPlugin(cached())` then `$call(cached({ ttl }))`).
  pass.options =
    options === null || pass.options == null ? options : resolveCacheOptions({ ...pass.options, ...options });
  return true;
}

/** Take the open pass if `owner` opened it (and, when given, it is for `queryId`). */
export function takePass(owner: object, queryId?: QueryId): QueryPass | undefined {
  const pass = slot.current;
  if (pass === undefined || pass.owner !== owner) return undefined;
  if (queryId !== undefined && pass.queryId !== queryId) return undefined;
  slot.current = undefined;
  return pass;
}

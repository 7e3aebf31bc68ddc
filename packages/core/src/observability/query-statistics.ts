import type { LoadRequest } from "../engine/load-request.js";
import type { LoadOutcome } from "../engine/observer.js";
import { tableOfTag } from "../engine/tags.js";
import type { RemovalReason } from "../store/cache-store.js";
import { adapterOfKey, queryShape } from "./query-shape.js";

/** Default number of query shapes tracked; the least recently seen is forgotten beyond it. */
export const DEFAULT_MAX_SHAPES = 500;

/**
 * Most stored entries remembered for attribution. The engine's own store reports every removal,
 * so this only bounds the map under a store that does not (the oldest are forgotten).
 */
const MAX_TRACKED_ENTRIES = 200_000;

/** What one query shape did since it was first seen (or since it was last forgotten). */
export interface QueryShapeStats {
  /** The normalised SQL (or function name) the adapter gave; never parameter values. */
  readonly shape: string;
  /** "drizzle", "kysely", "prisma", "cached" or "other", from the key. */
  readonly adapter: string;
  /** Reads served from the cache. */
  hits: number;
  /**
   * Cacheable reads not in the cache. A caller that joined a load already in flight counts as a
   * miss (it waited for the database, not for memory) and in `joined` too; so `loads` is
   * `misses - joined`, and the hit ratio is `hits / (hits + misses)`.
   */
  misses: number;
  /** Misses that joined a load in flight (single flight) instead of starting one. */
  joined: number;
  /** Loads started. */
  loads: number;
  /** Loads whose result was stored. */
  stored: number;
  /** Loads whose result was returned but not stored (fill guard, too large, uncacheable, doNotStore). */
  refused: number;
  /** Loads that failed or timed out. */
  errors: number;
  /** Entries of this shape dropped by invalidations. */
  invalidated: number;
  /** Entries of this shape evicted for size or expired. */
  evicted: number;
  /** Total and longest load time, ms. */
  loadMsTotal: number;
  loadMsMax: number;
  /** Tables the last stored result depended on, as `schema.table`. */
  tables: readonly string[];
  /** Last time it was read (ms since epoch). */
  lastSeenAt: number;
}

/**
 * Hits, misses, loads and invalidations per query shape, in a bounded LRU of shapes. Keys of stored
 * entries are remembered (one map slot per entry, dropped with the entry) so that an invalidation
 * is counted against the shape whose entry it dropped.
 */
export class QueryStatistics {
  readonly maxShapes: number;
  readonly #shapes = new Map<string, QueryShapeStats>();
  readonly #entryShapes = new Map<string, QueryShapeStats>();

  constructor(maxShapes = DEFAULT_MAX_SHAPES) {
    this.maxShapes = Math.max(1, maxShapes);
  }

  get size(): number {
    return this.#shapes.size;
  }

  hit(request: LoadRequest, key: string): void {
    // A hit's entry was stored by a load of this shape: no need to derive the shape again.
    const known = request.name === undefined ? this.#entryShapes.get(key) : undefined;
    const stats = known === undefined ? this.#shape(request, key) : this.#touch(known);
    stats.hits++;
    stats.lastSeenAt = Date.now();
  }

  miss(request: LoadRequest, key: string, joined: boolean): void {
    const stats = this.#shape(request, key);
    stats.misses++;
    if (joined) stats.joined++;
    stats.lastSeenAt = Date.now();
  }

  /** A load of `request` started; returns what to call when it ended. */
  loadStart(request: LoadRequest, key: string): QueryShapeStats {
    const stats = this.#shape(request, key);
    stats.loads++;
    return stats;
  }

  loadEnd(
    stats: QueryShapeStats,
    key: string,
    outcome: LoadOutcome,
    durationMs: number,
    tags: readonly string[],
  ): void {
    stats.loadMsTotal += durationMs;
    if (durationMs > stats.loadMsMax) stats.loadMsMax = durationMs;
    if (outcome === "stored") {
      stats.stored++;
      const tables: string[] = [];
      for (const tag of tags) {
        const table = tableOfTag(tag);
        if (table !== undefined) tables.push(table);
      }
      stats.tables = tables;
      this.#entryShapes.set(key, stats);
      if (this.#entryShapes.size > MAX_TRACKED_ENTRIES) {
        const oldest = this.#entryShapes.keys().next();
        if (!oldest.done) this.#entryShapes.delete(oldest.value);
      }
    } else if (outcome === "error" || outcome === "timeout") stats.errors++;
    else stats.refused++;
  }

  /** An entry left the store. "invalidated" also covers a replaced entry (a new fill of the same key). */
  removed(key: string, reason: RemovalReason): void {
    const stats = this.#entryShapes.get(key);
    if (stats === undefined) return;
    this.#entryShapes.delete(key);
    if (reason === "invalidated") stats.invalidated++;
    else stats.evicted++;
  }

  /** The shapes, most read first (hits + misses), at most `limit`. Copies. */
  top(limit = 20): QueryShapeStats[] {
    return [...this.#shapes.values()]
      .sort((a, b) => b.hits + b.misses - (a.hits + a.misses))
      .slice(0, limit)
      .map((s) => ({ ...s }));
  }

  /** Every tracked shape (copies), in no particular order. */
  all(): QueryShapeStats[] {
    return [...this.#shapes.values()].map((s) => ({ ...s }));
  }

  #shape(request: LoadRequest, key: string): QueryShapeStats {
    const shape = queryShape(request, key);
    const known = this.#shapes.get(shape);
    if (known !== undefined) return this.#touch(known);
    const stats: QueryShapeStats = {
      shape,
      adapter: adapterOfKey(key),
      hits: 0,
      misses: 0,
      joined: 0,
      loads: 0,
      stored: 0,
      refused: 0,
      errors: 0,
      invalidated: 0,
      evicted: 0,
      loadMsTotal: 0,
      loadMsMax: 0,
      tables: [],
      lastSeenAt: Date.now(),
    };
    this.#shapes.set(shape, stats);
    if (this.#shapes.size > this.maxShapes) {
      const oldest = this.#shapes.keys().next();
      if (!oldest.done) this.#shapes.delete(oldest.value);
    }
    return stats;
  }

  /** Most recently seen goes last (the first one is forgotten when full); a forgotten one comes back. */
  #touch(stats: QueryShapeStats): QueryShapeStats {
    this.#shapes.delete(stats.shape);
    this.#shapes.set(stats.shape, stats);
    if (this.#shapes.size > this.maxShapes) {
      const oldest = this.#shapes.keys().next();
      if (!oldest.done) this.#shapes.delete(oldest.value);
    }
    return stats;
  }
}

import type { CacheWatch } from "@pgcachewatch/core";
import type { CallCost } from "../measure.js";
import { measureAsync } from "../measure.js";

/** Categories the hit-cost rows rotate through: every key is warm before hits are timed. */
export const CATEGORIES = 50;

export interface AdapterPair {
  name: string;
  /** Minimum uncached/hit ratio; none for another library's cache shown for comparison. */
  target?: number;
  /** The query through the ORM alone (no PGCacheWatch on that client). */
  uncached(category: number): Promise<unknown>;
  /** The same query through the adapter's cached path. */
  cached(category: number): Promise<unknown>;
  /** Hits counted so far by the cache behind `cached` (checked, so a row never times misses). */
  hits(): number;
  close(): Promise<void>;
}

export interface IterationCounts {
  queries: number;
  hits: number;
  warmup: number;
}

export function iterationCounts(quick: boolean): IterationCounts {
  return quick
    ? { queries: 300, hits: 5_000, warmup: 2_000 }
    : { queries: 5_000, hits: 100_000, warmup: 10_000 };
}

/** The query through the ORM alone, against PostgreSQL. */
export function measureUncached(pair: AdapterPair, counts: IterationCounts): Promise<CallCost> {
  return measureAsync((i) => pair.uncached(i % CATEGORIES), {
    iterations: counts.queries,
    warmup: Math.min(500, counts.queries),
    batch: 100,
  });
}

/**
 * The cached path's hits, every key warm first; checks every timed call was a hit (a row that
 * silently timed misses would mislead).
 */
export async function measureHits(pair: AdapterPair, counts: IterationCounts): Promise<CallCost> {
  for (let c = 0; c < CATEGORIES; c++) await pair.cached(c);
  const before = pair.hits();
  let calls = 0;
  const hit = await measureAsync(
    (i) => {
      calls++;
      return pair.cached(i % CATEGORIES);
    },
    { iterations: counts.hits, warmup: counts.warmup },
  );
  const hits = pair.hits() - before;
  if (hits < calls) throw new Error(`${pair.name}: only ${hits} of ${calls} cached calls were hits`);
  return hit;
}

/**
 * The cached path's misses: the cache is emptied before each call (invalidateAll, in the timed
 * call: microseconds next to the round trip), so each call loads, fills and returns.
 */
export async function measureMisses(
  pair: AdapterPair,
  watch: CacheWatch,
  counts: IterationCounts,
): Promise<CallCost> {
  const before = watch.stats().misses;
  let calls = 0;
  const miss = await measureAsync(
    (i) => {
      calls++;
      watch.invalidateAll();
      return pair.cached(i % CATEGORIES);
    },
    { iterations: Math.max(100, Math.floor(counts.queries / 5)), warmup: 50, batch: 50 },
  );
  const misses = watch.stats().misses - before;
  if (misses < calls) throw new Error(`${pair.name}: only ${misses} of ${calls} missed calls were misses`);
  return miss;
}

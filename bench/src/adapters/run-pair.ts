import { measureAsync } from "../measure.js";
import type { HitCostVariant } from "../scenarios/hit-cost.js";

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

/**
 * Measures an adapter's uncached query and its cached hit the same way the core rows are measured,
 * and checks every timed cached call was a hit (a row that silently timed misses would mislead).
 */
export async function measurePair(pair: AdapterPair, quick: boolean): Promise<HitCostVariant> {
  const queryIterations = quick ? 300 : 5_000;
  const hitIterations = quick ? 5_000 : 100_000;
  const uncached = await measureAsync((i) => pair.uncached(i % CATEGORIES), {
    iterations: queryIterations,
    warmup: Math.min(500, queryIterations),
    batch: 100,
  });
  for (let c = 0; c < CATEGORIES; c++) await pair.cached(c);
  const before = pair.hits();
  let calls = 0;
  const hit = await measureAsync(
    (i) => {
      calls++;
      return pair.cached(i % CATEGORIES);
    },
    { iterations: hitIterations, warmup: quick ? 2_000 : 10_000 },
  );
  const hits = pair.hits() - before;
  if (hits < calls) throw new Error(`${pair.name}: only ${hits} of ${calls} cached calls were hits`);
  return { name: pair.name, target: pair.target, uncached, hit };
}

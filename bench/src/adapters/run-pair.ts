import type { CacheWatch } from "@pgcachewatch/core";
import { measureAsync } from "../measure.js";
import type { HitCostVariant } from "../scenarios/hit-cost.js";

/** Categories the hit-cost rows rotate through: every key is warm before hits are timed. */
export const CATEGORIES = 50;

export interface AdapterPair {
  name: string;
  target: number;
  /** The query through the ORM alone (no PGCacheWatch on that client). */
  uncached(category: number): Promise<unknown>;
  /** The same query through the adapter's cached path. */
  cached(category: number): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Measures an adapter's uncached query and its cached hit the same way the core rows are measured,
 * and checks the hits really were hits (a row that silently measured misses would flatter nothing
 * but would mislead).
 */
export async function measurePair(
  pair: AdapterPair,
  watch: CacheWatch,
  quick: boolean,
): Promise<HitCostVariant> {
  const queryIterations = quick ? 300 : 5_000;
  const hitIterations = quick ? 20_000 : 200_000;
  const uncached = await measureAsync((i) => pair.uncached(i % CATEGORIES), {
    iterations: queryIterations,
    warmup: Math.min(500, queryIterations),
    batch: 100,
  });
  for (let c = 0; c < CATEGORIES; c++) await pair.cached(c);
  const before = watch.stats();
  let calls = 0;
  const hit = await measureAsync(
    (i) => {
      calls++;
      return pair.cached(i % CATEGORIES);
    },
    { iterations: hitIterations, warmup: 10_000 },
  );
  const after = watch.stats();
  const hits = after.hits - before.hits;
  if (hits < calls) {
    throw new Error(
      `${pair.name}: only ${hits} of ${calls} cached calls were hits (${after.misses - before.misses} misses)`,
    );
  }
  return { name: pair.name, target: pair.target, uncached, hit };
}

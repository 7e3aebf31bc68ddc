import { createCacheWatch } from "@pgcachewatch/core";
import type { HitCostVariant } from "../scenarios/hit-cost.js";
import { drizzlePair } from "./drizzle.js";
import { kyselyPair } from "./kysely.js";
import { prismaPair } from "./prisma.js";
import { measurePair } from "./run-pair.js";

/**
 * Hit-cost rows of the ORM adapters: each measures the query through the ORM alone and the cached
 * hit of the same query through the adapter. The items table and its triggers already exist.
 */
export async function adapterHitCosts(url: string, quick: boolean): Promise<HitCostVariant[]> {
  const rows: HitCostVariant[] = [];
  for (const open of [drizzlePair, kyselyPair, prismaPair]) {
    // A fresh engine per adapter, so one adapter's entries never answer another's reads.
    const watch = createCacheWatch({ connectionString: url });
    await watch.start();
    const pair = await open(url, watch);
    try {
      rows.push(await measurePair(pair, watch, quick));
    } finally {
      await pair.close();
      await watch.stop();
    }
  }
  return rows;
}

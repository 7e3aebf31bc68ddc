import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import type { HitCostVariant } from "../scenarios/hit-cost.js";
import {
  drizzleBuilderPair,
  drizzleBuiltInPair,
  drizzlePreparedCachedPair,
  drizzlePreparedPair,
  drizzleQueryBuildingPair,
} from "./drizzle.js";
import { kyselyCompilePair, kyselyPair } from "./kysely.js";
import { prismaPair, prismaQueryBuildingPair } from "./prisma.js";
import { type AdapterPair, measurePair } from "./run-pair.js";

const PAIRS: ((url: string, watch: CacheWatch) => AdapterPair | Promise<AdapterPair>)[] = [
  drizzleBuilderPair,
  drizzleQueryBuildingPair,
  drizzlePreparedCachedPair,
  drizzlePreparedPair,
  drizzleBuiltInPair,
  kyselyPair,
  kyselyCompilePair,
  prismaPair,
  prismaQueryBuildingPair,
];

/**
 * Hit-cost rows of the ORM adapters: each measures the query through the ORM alone and the cached
 * hit of the same query. The items table and its triggers already exist.
 */
export async function adapterHitCosts(url: string, quick: boolean): Promise<HitCostVariant[]> {
  const rows: HitCostVariant[] = [];
  for (const open of PAIRS) {
    // A fresh engine per row, so one adapter's entries never answer another's reads.
    const watch = createCacheWatch({ connectionString: url });
    await watch.start();
    const pair = await open(url, watch);
    try {
      rows.push(await measurePair(pair, quick));
    } finally {
      await pair.close();
      await watch.stop();
    }
  }
  return rows;
}

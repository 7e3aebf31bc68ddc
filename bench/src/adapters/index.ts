import { type CacheWatch, createCacheWatch, type IsolationMode } from "@pgcachewatch/core";
import type { HitCostVariant } from "../scenarios/hit-cost.js";
import {
  drizzleBuilderPair,
  drizzleBuiltInPair,
  drizzlePreparedCachedPair,
  drizzlePreparedPair,
  drizzleQueryBuildingPair,
} from "./drizzle.js";
import { kyselyCompilePair, kyselyMemoryPair, kyselyPair } from "./kysely.js";
import { prismaHookFloorPair, prismaPair, prismaQueryBuildingPair } from "./prisma.js";
import {
  type AdapterPair,
  iterationCounts,
  measureHits,
  measureMisses,
  measureUncached,
} from "./run-pair.js";

type OpenPair = (url: string, watch: CacheWatch) => AdapterPair | Promise<AdapterPair>;

/** One adapter row: its cached path, and the ORM's own work for the same call without a cache. */
interface AdapterRow {
  open: OpenPair;
  /** The floor: what the ORM does for this call when nothing is cached (building, compiling...). */
  floors?: OpenPair[];
  /** Another library's cache, for comparison: measured with copy only, no floor, no miss. */
  comparison?: boolean;
}

const ROWS: AdapterRow[] = [
  { open: drizzleBuilderPair, floors: [drizzleQueryBuildingPair] },
  { open: drizzlePreparedCachedPair },
  { open: drizzlePreparedPair },
  { open: drizzleBuiltInPair, comparison: true },
  { open: kyselyPair, floors: [kyselyCompilePair, kyselyMemoryPair] },
  { open: prismaPair, floors: [prismaHookFloorPair, prismaQueryBuildingPair] },
];

async function withPair<T>(
  url: string,
  open: OpenPair,
  isolation: IsolationMode,
  use: (pair: AdapterPair, watch: CacheWatch) => Promise<T>,
): Promise<T> {
  // A fresh engine per measurement, so one adapter's entries never answer another's reads.
  const watch = createCacheWatch({ connectionString: url, isolation });
  await watch.start();
  const pair = await open(url, watch);
  try {
    return await use(pair, watch);
  } finally {
    await pair.close();
    await watch.stop();
  }
}

/**
 * Hit-cost rows of the ORM adapters: per adapter the query uncached, the ORM's own work alone (the
 * floor), the cached hit in copy mode and in freeze mode, and a miss. The items table and its
 * triggers already exist.
 */
export async function adapterHitCosts(url: string, quick: boolean): Promise<HitCostVariant[]> {
  const counts = iterationCounts(quick);
  const rows: HitCostVariant[] = [];
  for (const row of ROWS) {
    const copy = await withPair(url, row.open, "copy", async (pair, watch) => ({
      name: pair.name,
      target: pair.target,
      uncached: await measureUncached(pair, counts),
      hit: await measureHits(pair, counts),
      miss: row.comparison ? undefined : await measureMisses(pair, watch, counts),
    }));
    const hitFrozen = row.comparison
      ? undefined
      : await withPair(url, row.open, "freeze", (pair) => measureHits(pair, counts));
    const floors = [];
    for (const open of row.floors ?? []) {
      floors.push(
        await withPair(url, open, "copy", async (pair) => ({
          name: pair.name,
          cost: await measureHits(pair, counts),
        })),
      );
    }
    rows.push({ ...copy, hitFrozen, floors, comparison: row.comparison === true });
  }
  return rows;
}

import type { CacheWatch } from "@pgcachewatch/core";
import { pgCacheWatch } from "@pgcachewatch/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import { ensurePrismaClient } from "../../scripts/generate-client.mjs";
import type { AdapterPair } from "./run-pair.js";

/**
 * Prisma 7 with the pg driver adapter: findMany through `$extends(pgCacheWatch({ watch }))` vs the
 * same findMany on the plain client. The client is generated on first use.
 */
export async function prismaPair(url: string, watch: CacheWatch): Promise<AdapterPair> {
  ensurePrismaClient();
  const { PrismaClient } = await import("../../generated/client/client.js");
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  const extended = base.$extends(pgCacheWatch({ watch }));
  const args = (category: number) => ({ where: { category }, orderBy: { id: "asc" as const }, take: 10 });
  return {
    name: "Prisma $extends(pgCacheWatch())",
    target: 10,
    uncached: (category) => plain.item.findMany(args(category)),
    cached: (category) => extended.item.findMany(args(category)),
    hits: () => watch.stats().hits,
    close: async () => {
      await plain.$disconnect();
      await base.$disconnect();
    },
  };
}

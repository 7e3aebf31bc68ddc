import type { HitCostVariant } from "./scenarios/hit-cost.js";

/**
 * Hit-cost rows of the ORM adapters (Drizzle, Prisma, Kysely): each measures its own uncached
 * query and its cached hit of the same query. Adapters join here as they land.
 */
export async function adapterHitCosts(_url: string, _quick: boolean): Promise<HitCostVariant[]> {
  return [];
}

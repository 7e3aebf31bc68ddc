import type { CacheWatch } from "@pgcachewatch/core";
import { pgCacheWatch } from "@pgcachewatch/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import { ensurePrismaClient } from "../../scripts/generate-client.mjs";
import { type AdapterPair, CATEGORIES } from "./run-pair.js";

const args = (category: number) => ({ where: { category }, orderBy: { id: "asc" as const }, take: 10 });

async function clientClass() {
  ensurePrismaClient();
  return (await import("../../generated/client/client.js")).PrismaClient;
}

/**
 * Prisma 7 with the pg driver adapter: findMany through `$extends(pgCacheWatch({ watch }))` vs the
 * same findMany on the plain client. The client is generated on first use.
 */
export async function prismaPair(url: string, watch: CacheWatch): Promise<AdapterPair> {
  const PrismaClient = await clientClass();
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  const extended = base.$extends(pgCacheWatch({ watch }));
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

interface ResultSet {
  readonly columnNames: string[];
  readonly columnTypes: unknown[];
  readonly rows: unknown[][];
}

type QueryRaw = (query: { sql: string; args: unknown[] }) => Promise<ResultSet>;

/**
 * A PrismaPg factory whose connection answers every statement it has seen once from memory (a
 * copy of the rows, as a driver hands out fresh rows). What remains is Prisma's own work per call:
 * its query extensions, serializing, compiling, interpreting the plan and shaping the rows.
 */
function memoryAnsweringAdapter(url: string): { factory: PrismaPg; answered: () => number } {
  const factory = new PrismaPg({ connectionString: url, max: 2 });
  const connect = factory.connect.bind(factory);
  const seen = new Map<string, ResultSet>();
  let answered = 0;
  factory.connect = async () => {
    const adapter = await connect();
    const queryRaw = adapter.queryRaw.bind(adapter) as unknown as QueryRaw;
    (adapter as unknown as { queryRaw: QueryRaw }).queryRaw = async (query) => {
      const key = `${query.sql}\u0000${JSON.stringify(query.args)}`;
      const known = seen.get(key);
      if (known) {
        answered++;
        return { ...known, rows: known.rows.map((row) => row.slice()) };
      }
      const result = await queryRaw(query);
      seen.set(key, { ...result, rows: result.rows.map((row) => row.slice()) });
      return result;
    };
    return adapter;
  };
  return { factory, answered: () => answered };
}

/**
 * The floor of a Prisma hit: the plain client (no PGCacheWatch) on the same findMany, its driver
 * adapter answering from memory, so no database time is left. Shown as the "hit" column, next to
 * the same query against PostgreSQL; the difference to the cached hit above is the cost that is
 * ours (key, lookup, copy), or what a hit saves beyond the round trip.
 */
export async function prismaQueryBuildingPair(url: string): Promise<AdapterPair> {
  const PrismaClient = await clientClass();
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  const memory = memoryAnsweringAdapter(url);
  const fromMemory = new PrismaClient({ adapter: memory.factory });
  return {
    name: "Prisma query building alone (plain client, adapter answering from memory)",
    uncached: (category) => plain.item.findMany(args(category)),
    cached: (category) => fromMemory.item.findMany(args(category)),
    hits: memory.answered,
    close: async () => {
      await plain.$disconnect();
      await fromMemory.$disconnect();
    },
  };
}

type ExecuteRequest = (request: { args?: unknown; clientMethod: string }) => Promise<unknown>;

/**
 * The floor of a Prisma hit: what Prisma does around the point where the cache answers. A plain
 * client with one pass-through query extension (as the cache adds one), whose `_executeRequest`
 * (where the cache's hook answers a hit) returns a result stored from a real run: Prisma's
 * argument handling, its extension chain and its result visitor, with no compiling, no database
 * and no cache.
 */
export async function prismaHookFloorPair(url: string): Promise<AdapterPair> {
  const PrismaClient = await clientClass();
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  const internals = base as unknown as { _executeRequest: ExecuteRequest };
  const execute = internals._executeRequest.bind(base);
  const stored = new Map<string, unknown>();
  let answered = 0;
  internals._executeRequest = (request) => {
    const key = `${request.clientMethod}\u0000${JSON.stringify(request.args)}`;
    if (stored.has(key)) {
      answered++;
      return Promise.resolve(stored.get(key));
    }
    return execute(request).then((result) => {
      stored.set(key, result);
      return result;
    });
  };
  const extended = base.$extends({
    query: { $allModels: { $allOperations: ({ args, query }) => query(args) } },
  });
  for (let c = 0; c < CATEGORIES; c++) await extended.item.findMany(args(c));
  return {
    name: "Prisma around the cache's hook (pass-through extension, _executeRequest answering from memory)",
    uncached: (category) => plain.item.findMany(args(category)),
    cached: (category) => extended.item.findMany(args(category)),
    hits: () => answered,
    close: async () => {
      await plain.$disconnect();
      await base.$disconnect();
    },
  };
}

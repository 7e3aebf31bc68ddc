import type { CacheWatch } from "@pgcachewatch/core";
import { pgCacheWatch } from "@pgcachewatch/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/client/client.js";
import type { ReadPath } from "../readers.js";

/**
 * Reads through Prisma with the PGCacheWatch extension: the model is mapped to the workload table,
 * and its table comes from the schema. Load this module after `ensurePrismaClient()`.
 */
export function prismaReadPaths(
  watch: CacheWatch,
  url: string,
): { paths: ReadPath[]; close(): Promise<void> } {
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const prisma = base.$extends(pgCacheWatch({ watch }));
  const select = { id: true, version: true } as const;
  const rows = (found: { id: number; version: bigint }[]) =>
    found.map((row) => ({ id: row.id, version: Number(row.version) }));
  return {
    paths: [
      {
        name: "prisma findMany",
        readRow: async (id) => rows(await prisma.chaosItem.findMany({ where: { id }, select })),
        readAll: async () => rows(await prisma.chaosItem.findMany({ select, orderBy: { id: "asc" } })),
      },
    ],
    close: () => prisma.$disconnect(),
  };
}

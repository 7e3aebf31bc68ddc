import type { CacheWatch } from "@pgcachewatch/core";
import { cached, pgCacheWatch } from "@pgcachewatch/kysely";
import { Kysely, PostgresDialect } from "kysely";
import type pg from "pg";
import type { ReadPath } from "../readers.js";
import type { WorkloadTable } from "../workload-schema.js";

interface ItemRow {
  id: number;
  version: string;
}

/** Reads through Kysely with the PGCacheWatch plugin and dialect: tables from the operation tree. */
export function kyselyReadPaths(watch: CacheWatch, pool: pg.Pool, target: WorkloadTable): ReadPath[] {
  const cache = pgCacheWatch(watch);
  // The table's real name (with its quote and space) as a key of the database type.
  const name = `${target.schema}.${target.table}`;
  const db = new Kysely<Record<string, ItemRow>>({
    dialect: cache.dialect(new PostgresDialect({ pool })),
    plugins: [cache],
  });
  // No raw SQL in the select list: the adapter (rightly) does not cache what it cannot see into.
  const select = () => db.selectFrom(name).select(["id", "version"]).$call(cached());
  const rows = (found: ItemRow[]) => found.map((row) => ({ id: row.id, version: Number(row.version) }));
  return [
    {
      name: "kysely cached()",
      readRow: async (id) => rows(await select().where("id", "=", id).execute()),
      readAll: async () => rows(await select().orderBy("id").execute()),
    },
  ];
}

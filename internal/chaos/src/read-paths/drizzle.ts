import type { CacheWatch } from "@pgcachewatch/core";
import { pgCacheWatchCache } from "@pgcachewatch/drizzle";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { bigint, integer, pgSchema, pgTable } from "drizzle-orm/pg-core";
import type pg from "pg";
import type { ReadPath } from "../readers.js";
import type { WorkloadTable } from "../workload-schema.js";

function itemsTable(target: WorkloadTable) {
  const columns = {
    id: integer("id").primaryKey(),
    version: bigint("version", { mode: "number" }).notNull(),
  };
  return target.schema === "public"
    ? pgTable(target.table, columns)
    : pgSchema(target.schema).table(target.table, columns);
}

/** Reads through Drizzle's `$cached()`: the tables come from the query, nobody lists them. */
export function drizzleReadPaths(watch: CacheWatch, pool: pg.Pool, target: WorkloadTable): ReadPath[] {
  const items = itemsTable(target);
  const db = drizzle({ client: pool, schema: { items }, cache: pgCacheWatchCache(watch) });
  const columns = { id: items.id, version: items.version };
  return [
    {
      name: "drizzle $cached()",
      readRow: (id) => db.select(columns).from(items).where(eq(items.id, id)).$cached(),
      readAll: () => db.select(columns).from(items).orderBy(items.id).$cached(),
    },
    {
      name: "drizzle query.findMany",
      readRow: (id) =>
        db.query.items.findMany({ columns: { id: true, version: true }, where: eq(items.id, id) }).$cached(),
      readAll: () =>
        db.query.items.findMany({ columns: { id: true, version: true }, orderBy: items.id }).$cached(),
    },
  ];
}

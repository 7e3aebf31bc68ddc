import type { CacheWatch } from "@pgcachewatch/core";
import { pgCacheWatchCache } from "@pgcachewatch/drizzle";
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, jsonb, numeric, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import pg from "pg";
import type { AdapterPair } from "./run-pair.js";

const items = pgTable("items", {
  id: integer().primaryKey(),
  category: integer().notNull(),
  name: text().notNull(),
  price: numeric({ precision: 10, scale: 2 }).notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  tags: text().array().notNull(),
  attributes: jsonb().notNull(),
});

/** Drizzle over node-postgres: `.$cached()` on a select vs the same select on a client without a cache. */
export function drizzlePair(url: string, watch: CacheWatch): AdapterPair {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const plain = drizzle({ client: pool });
  const withCache = drizzle({ client: pool, cache: pgCacheWatchCache(watch) });
  const select = (db: typeof plain, category: number) =>
    db.select().from(items).where(eq(items.category, category)).orderBy(asc(items.id)).limit(10);
  return {
    name: "Drizzle .$cached()",
    target: 20,
    uncached: (category) => select(plain, category).execute(),
    cached: (category) => select(withCache, category).$cached(),
    close: () => pool.end(),
  };
}

import type { CacheWatch } from "@pgcachewatch/core";
import { pgCacheWatchCache } from "@pgcachewatch/drizzle";
import { asc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, jsonb, numeric, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import pg from "pg";
import { DrizzleMemoryCache } from "./drizzle-memory-cache.js";
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

type Db = ReturnType<typeof drizzle>;

/** The query, built from scratch on each call as request handlers do. */
const select = (db: Db, category: number) =>
  db.select().from(items).where(eq(items.category, category)).orderBy(asc(items.id)).limit(10);

/** The same query with a placeholder, for prepared statements (built and rendered once). */
const selectPlaceholder = (db: Db) =>
  db
    .select()
    .from(items)
    .where(eq(items.category, sql.placeholder("category")))
    .orderBy(asc(items.id))
    .limit(10);

/** Builder `.$cached()` vs the same builder on a client without a cache. */
export function drizzleBuilderPair(url: string, watch: CacheWatch): AdapterPair {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const plain = drizzle({ client: pool });
  const withCache = drizzle({ client: pool, cache: pgCacheWatchCache(watch) });
  return {
    name: "Drizzle .$cached()",
    target: 20,
    uncached: (category) => select(plain, category).execute(),
    cached: (category) => select(withCache, category).$cached(),
    hits: () => watch.stats().hits,
    close: () => pool.end(),
  };
}

/**
 * Drizzle rendering the same builder to SQL (`toSQL()`), with no cache and no database: the floor
 * a `$cached()` hit cannot go under, so the cost that is ours is the difference to that row.
 */
export function drizzleQueryBuildingPair(url: string, watch: CacheWatch): AdapterPair {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const plain = drizzle({ client: pool });
  const withCache = drizzle({ client: pool, cache: pgCacheWatchCache(watch) });
  let built = 0;
  return {
    name: "Drizzle query building alone (toSQL)",
    uncached: (category) => select(plain, category).execute(),
    cached: (category) => {
      select(withCache, category).toSQL();
      built++;
      return Promise.resolve();
    },
    hits: () => built,
    close: () => pool.end(),
  };
}

/** A prepared statement's `$cached(values)`: SQL text and result shape fixed, only the values are keyed. */
export function drizzlePreparedCachedPair(url: string, watch: CacheWatch): AdapterPair {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const plain = selectPlaceholder(drizzle({ client: pool })).prepare("bench_items_plain_2");
  const cached = selectPlaceholder(drizzle({ client: pool, cache: pgCacheWatchCache(watch) })).prepare(
    "bench_items_prepared_cached",
  );
  return {
    name: "Drizzle prepared .$cached(values)",
    target: 20,
    uncached: (category) => plain.execute({ category }),
    cached: (category) => cached.$cached({ category }),
    hits: () => watch.stats().hits,
    close: () => pool.end(),
  };
}

/** A prepared statement with `$withCache()` (served by the engine) vs the same prepared statement uncached. */
export function drizzlePreparedPair(url: string, watch: CacheWatch): AdapterPair {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const plain = selectPlaceholder(drizzle({ client: pool })).prepare("bench_items_plain");
  const cached = selectPlaceholder(drizzle({ client: pool, cache: pgCacheWatchCache(watch) }))
    .$withCache()
    .prepare("bench_items_cached");
  return {
    name: "Drizzle prepared .$withCache()",
    target: 20,
    uncached: (category) => plain.execute({ category }),
    cached: (category) => cached.execute({ category }),
    hits: () => watch.stats().hits,
    close: () => pool.end(),
  };
}

/** Drizzle's own cache (`$withCache()` on an in-memory Cache), for comparison: no isolation, no invalidation from other writers. */
export function drizzleBuiltInPair(url: string): AdapterPair {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const cache = new DrizzleMemoryCache();
  const plain = drizzle({ client: pool });
  const withCache = drizzle({ client: pool, cache });
  return {
    name: "Drizzle built-in cache (in-memory Cache)",
    uncached: (category) => select(plain, category).execute(),
    cached: (category) => select(withCache, category).$withCache(),
    hits: () => cache.hits,
    close: () => pool.end(),
  };
}

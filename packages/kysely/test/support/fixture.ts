import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import type { DatabaseFixture } from "@pgcachewatch/testdb/vitest";
import { Kysely, type KyselyPlugin, PostgresDialect } from "kysely";
import pg from "pg";
import { type PgCacheWatchPlugin, pgCacheWatch } from "../../src/index.js";
import { createSchema, type Database } from "./schema.js";

export interface KyselyFixture {
  watch: CacheWatch;
  cache: PgCacheWatchPlugin;
  pool: pg.Pool;
  db: Kysely<Database>;
  writer: pg.Client;
  /** How many times the code under test asked the pool for a connection. */
  poolCheckouts(): number;
  close(): Promise<void>;
}

/** A real engine (NOTIFY source), a pg pool, and a Kysely registered with the cache plugin. */
export async function openFixture(
  database: DatabaseFixture,
  options: { max?: number; plugins?: KyselyPlugin[] } = {},
): Promise<KyselyFixture> {
  const writer = await database.externalWriter();
  await createSchema(writer);
  const pool = new pg.Pool({ connectionString: database.url, max: options.max ?? 4 });
  let checkouts = 0;
  const connect = pool.connect.bind(pool);
  pool.connect = ((...args: unknown[]) => {
    checkouts++;
    return (connect as (...a: unknown[]) => unknown)(...args);
  }) as typeof pool.connect;
  const watch = createCacheWatch({ connectionString: database.url });
  await watch.start();
  const cache = pgCacheWatch(watch);
  const db = new Kysely<Database>({
    dialect: cache.dialect(new PostgresDialect({ pool })),
    plugins: [cache, ...(options.plugins ?? [])],
  });
  return {
    watch,
    cache,
    pool,
    db,
    writer,
    poolCheckouts: () => checkouts,
    async close() {
      await db.destroy();
      await watch.stop();
    },
  };
}

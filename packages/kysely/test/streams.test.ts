import { type CacheWatch, createCacheWatch, type InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import Cursor from "pg-cursor";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cached, pgCacheWatch } from "../src/index.js";
import { createSchema, type Database } from "./support/schema.js";

// Streams (`.stream()`, a pg-cursor) go through the engine like every other statement: never
// answered from the cache, and a streamed write invalidates once the stream is done.

const database = useTestDatabase("kysely_streams");
let watch: CacheWatch;
let writer: pg.Client;
let db: Kysely<Database>;
/** Invalidations the adapter made for user_settings (no trigger on it: nobody else can). */
let settingsInvalidations: InvalidateInfo[];

beforeAll(async () => {
  writer = await database.externalWriter();
  await createSchema(writer);
  watch = createCacheWatch({ connectionString: database.url });
  await watch.start();
  const cache = pgCacheWatch(watch);
  db = new Kysely<Database>({
    dialect: cache.dialect(
      new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }), cursor: Cursor }),
    ),
    plugins: [cache],
  });
  watch.on("invalidate", (info) => {
    if (info.reason === "mutation" && info.tables.includes("public.user_settings")) {
      settingsInvalidations.push(info);
    }
  });
});
beforeEach(() => {
  settingsInvalidations = [];
});
afterAll(async () => {
  await db?.destroy();
  await watch?.stop();
});

const readSettings = () =>
  db
    .selectFrom("user_settings")
    .select(["user_id", "dark_mode"])
    .orderBy("user_id")
    .$call(cached())
    .execute();

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const rows: T[] = [];
  for await (const row of stream) rows.push(row);
  return rows;
}

describe("streams", () => {
  it("a streamed read marked cached reads the database every time and fills nothing", async () => {
    const before = watch.stats();
    const stream = () =>
      db.selectFrom("users").select(["id", "name"]).orderBy("id").$call(cached()).stream(1);
    const first = await collect(stream());
    expect(first).toEqual((await writer.query("SELECT id, name FROM users ORDER BY id")).rows);
    expect(await collect(stream())).toEqual(first);
    const after = watch.stats();
    expect([after.hits, after.loads]).toEqual([before.hits, before.loads]);
  });

  it("a streamed write invalidates its table once the stream is done (read-your-writes)", async () => {
    const cachedBefore = await readSettings();
    const flipped = await collect(
      db
        .updateTable("user_settings")
        .set({ dark_mode: sql<boolean>`not dark_mode` })
        .returning(["user_id", "dark_mode"])
        .stream(1),
    );
    expect(flipped).toHaveLength(2);
    expect(settingsInvalidations).toHaveLength(1);
    const after = await readSettings();
    expect(after).toEqual(
      (await writer.query("SELECT user_id, dark_mode FROM user_settings ORDER BY user_id")).rows,
    );
    expect(after).not.toEqual(cachedBefore);
  });

  it("a streamed write inside a transaction invalidates at COMMIT", async () => {
    const cachedBefore = await readSettings();
    await db.transaction().execute(async (trx) => {
      await collect(
        trx
          .updateTable("user_settings")
          .set({ dark_mode: sql<boolean>`not dark_mode` })
          .where("user_id", "=", 1)
          .returning("user_id")
          .stream(),
      );
      expect(settingsInvalidations).toHaveLength(0);
      expect(await readSettings()).toEqual(cachedBefore);
    });
    expect(settingsInvalidations).toHaveLength(1);
    expect(await readSettings()).not.toEqual(cachedBefore);
  });
});

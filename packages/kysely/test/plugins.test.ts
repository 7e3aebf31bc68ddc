import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { CamelCasePlugin, type ColumnType, Kysely, ParseJSONResultsPlugin, PostgresDialect } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cached, type PgCacheWatchPlugin, pgCacheWatch } from "../src/index.js";
import { createSchema } from "./support/schema.js";
import { changeOf } from "./support/wait.js";

interface CamelDatabase {
  users: { id: number; name: string; profile: ColumnType<unknown, string, string> | null; note: unknown };
  posts: { id: number; userId: number; title: string; createdAt: Date };
}

const database = useTestDatabase("kysely_plugins");
let watch: CacheWatch;
let pool: pg.Pool;
let writer: pg.Client;
let cache: PgCacheWatchPlugin;
/** The cache first, then Kysely's result plugins. */
let cacheFirst: Kysely<CamelDatabase>;
/** The same plugins, the cache last. */
let cacheLast: Kysely<CamelDatabase>;

beforeAll(async () => {
  writer = await database.externalWriter();
  await createSchema(writer);
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  watch = createCacheWatch({ connectionString: database.url });
  await watch.start();
  cache = pgCacheWatch(watch);
  cacheFirst = new Kysely<CamelDatabase>({
    dialect: cache.dialect(new PostgresDialect({ pool })),
    plugins: [cache, new CamelCasePlugin(), new ParseJSONResultsPlugin()],
  });
  cacheLast = new Kysely<CamelDatabase>({
    dialect: cache.dialect(
      new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }),
    ),
    plugins: [new ParseJSONResultsPlugin(), new CamelCasePlugin(), cache],
  });
});
afterAll(async () => {
  await cacheLast?.destroy();
  await cacheFirst?.destroy();
  await watch?.stop();
});

const readUsers = (db: Kysely<CamelDatabase>) =>
  db.selectFrom("users").select(["id", "name", "profile", "note"]).orderBy("id").$call(cached()).execute();
const readPosts = (db: Kysely<CamelDatabase>) =>
  db
    .selectFrom("posts")
    .select(["id", "userId", "title", "createdAt"])
    .orderBy("id")
    .$call(cached())
    .execute();

describe.each([
  ["cache plugin first", () => cacheFirst],
  ["cache plugin last", () => cacheLast],
])("composed with CamelCasePlugin and ParseJSONResultsPlugin (%s)", (_order, db) => {
  it("a hit gives the same result as the miss: camelCase keys, JSON text parsed", async () => {
    const changed = changeOf(watch, "public.users");
    await writer.query("UPDATE users SET note = note WHERE id = 1");
    await changed;
    const before = watch.stats();
    const miss = await readUsers(db());
    expect(watch.stats().loads).toBe(before.loads + 1);
    const hit = await readUsers(db());
    expect(watch.stats().hits).toBe(before.hits + 1);
    expect(hit).toEqual(miss);
    // The text column holding JSON was parsed by ParseJSONResultsPlugin, on the hit as on the miss.
    expect(hit[0]?.note).toEqual({ tags: ["math"] });
    expect(hit[0]?.profile).toEqual({ langs: ["en"], since: 1843 });
  });

  it("results are isolated: mutating one caller's rows (in place) changes nobody else's", async () => {
    const first = await readUsers(db());
    const ada = first[0]!;
    (ada.note as { tags: string[] }).tags.push("mutated by the first caller");
    (ada.profile as { since: number }).since = 0;
    first.pop();
    const second = await readUsers(db());
    expect(second[0]?.note).toEqual({ tags: ["math"] });
    expect(second[0]?.profile).toEqual({ langs: ["en"], since: 1843 });
    expect(second).toHaveLength(2);
    (second[0] as { name: string }).name = "changed";
    expect((await readUsers(db()))[0]?.name).toBe("ada");
  });

  it("tables come from the final query: camelCase names are derived as the snake_case tables", async () => {
    const warm = await readPosts(db());
    expect(warm[0]?.createdAt).toBeInstanceOf(Date);
    expect(warm[0]).toHaveProperty("userId");
    const changed = changeOf(watch, "public.posts");
    await writer.query("UPDATE posts SET title = title || '!' WHERE id = 1");
    await changed;
    const fresh = await readPosts(db());
    expect(fresh[0]?.title).toBe(`${warm[0]?.title}!`);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { nextEvent } from "./support/wait.js";

const db = useTestDatabase("raw_query");
let watch: CacheWatch;
let pool: pg.Pool;
let writer: pg.Client;

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES users, title text NOT NULL);
    CREATE TABLE flags (user_id int PRIMARY KEY, banned boolean NOT NULL);
    INSERT INTO users VALUES (1, 'ada'), (2, 'grace');
    INSERT INTO posts VALUES (1, 1, 'hello'), (2, 2, 'world');
    INSERT INTO flags VALUES (1, false), (2, false);
    CREATE FUNCTION is_banned(uid int) RETURNS boolean LANGUAGE sql STABLE
      AS 'SELECT banned FROM flags WHERE user_id = uid';
  `);
  for (const table of ["users", "posts", "flags"]) await createTestTrigger(writer, table);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000 });
  await watch.start();
});

afterAll(async () => {
  await watch?.stop();
  await pool?.end();
});

const JOIN = "SELECT p.title, u.name FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id = $1";

describe("watch.query: raw SQL with no tables named", () => {
  it.each([
    ["posts", "UPDATE posts SET title = 'changed' WHERE id = 1"],
    ["users", "UPDATE users SET name = 'ada lovelace' WHERE id = 1"],
  ])("a join is cached, and an external write to %s drops it", async (table, update) => {
    const first = await watch.query(pool, JOIN, [1]);
    const stats = watch.stats();
    expect((await watch.query(pool, JOIN, [1])).rows).toEqual(first.rows);
    expect(watch.stats().hits).toBe(stats.hits + 1);
    const dropped = nextEvent(watch, "invalidate", (info) => info.tables.includes(`public.${table}`));
    await writer.query(update);
    await dropped;
    const fresh = await watch.query(pool, JOIN, [1]);
    expect(fresh.rows).toEqual((await writer.query(JOIN, [1])).rows);
    expect(fresh.rows).not.toEqual(first.rows);
  });

  it("a hit does no analysis", async () => {
    const sql = "SELECT name FROM users WHERE id = $1";
    await watch.query(pool, sql, [2]);
    const counters = { ...watch.analyzer.counters };
    const hits = watch.stats().hits;
    for (let i = 0; i < 20; i++) await watch.query(pool, sql, [2]);
    expect(watch.stats().hits).toBe(hits + 20);
    expect(watch.analyzer.counters).toEqual(counters);
  });

  it("a user function in WHERE that reads another table is not cached, unless its tables are named", async () => {
    const sql = "SELECT id FROM users WHERE NOT is_banned(id) ORDER BY id";
    const before = watch.stats();
    await watch.query(pool, sql);
    await watch.query(pool, sql);
    expect(watch.stats().hits).toBe(before.hits);
    expect(watch.stats().fillsUncacheable).toBe(before.fillsUncacheable + 2);
    const named = () => watch.query(pool, sql, [], { tables: ["users", "flags"] });
    expect((await named()).rows).toEqual([{ id: 1 }, { id: 2 }]);
    await named();
    expect(watch.stats().hits).toBe(before.hits + 1);
    const dropped = nextEvent(watch, "invalidate", (info) => info.tables.includes("public.flags"));
    await writer.query("UPDATE flags SET banned = true WHERE user_id = 2");
    await dropped;
    expect((await named()).rows).toEqual([{ id: 1 }]);
  });

  it("now() is never cached", async () => {
    const before = watch.stats();
    await watch.query(pool, "SELECT now() AS t");
    await watch.query(pool, "SELECT now() AS t");
    expect(watch.stats().hits).toBe(before.hits);
  });

  it("a raw write invalidates its table as soon as it completes (read-your-writes, no event needed)", async () => {
    const local = createCacheWatch({ connectionString: db.url, source: "none" });
    await local.start();
    try {
      const read = () => local.query(pool, "SELECT name FROM users WHERE id = 2");
      const before = (await read()).rows[0]?.name;
      await read();
      expect(local.stats().hits).toBe(1);
      await local.query(pool, "UPDATE users SET name = name || '!' WHERE id = 2");
      expect((await read()).rows[0]?.name).toBe(`${before}!`);
    } finally {
      await local.stop();
    }
  });

  it("reads on a client inside a transaction neither use nor fill the cache; a rolled-back write is never served", async () => {
    const local = createCacheWatch({ connectionString: db.url, source: "none" });
    await local.start();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const sql = "SELECT title FROM posts WHERE id = 2";
      await local.query(client, "BEGIN");
      expect(local.inTransaction(client)).toBe(true);
      // Raw SQL through the client itself: the engine sees no write, only the transaction.
      await client.query("UPDATE posts SET title = 'uncommitted' WHERE id = 2");
      expect((await local.query(client, sql)).rows).toEqual([{ title: "uncommitted" }]);
      expect((await local.query(client, sql)).rows).toEqual([{ title: "uncommitted" }]);
      await local.query(client, "ROLLBACK");
      expect(local.inTransaction(client)).toBe(false);
      expect(local.stats()).toMatchObject({ hits: 0, entries: 0 });
      expect((await local.query(client, sql)).rows).toEqual([{ title: "world" }]);
    } finally {
      await client.end();
      await local.stop();
    }
  });

  it("an adapter's load whose statement writes is neither shared by concurrent callers nor stored", async () => {
    let runs = 0;
    const load = () =>
      watch.load(
        { key: "writing-load", statement: "INSERT INTO flags VALUES (99, true) ON CONFLICT DO NOTHING" },
        async () => ++runs,
      );
    await Promise.all([load(), load(), load()]);
    expect(runs).toBe(3);
    let reads = 0;
    const read = () =>
      watch.load(
        { key: "reading-load", statement: "SELECT 1 FROM flags", tables: ["flags"] },
        async () => ++reads,
      );
    await Promise.all([read(), read(), read()]);
    expect(reads).toBe(1);
  });

  it("two identical concurrent writes both run (writes are never single-flighted)", async () => {
    await writer.query("CREATE TABLE counter (n int)");
    await writer.query("INSERT INTO counter VALUES (0)");
    await Promise.all([
      watch.query(pool, "UPDATE counter SET n = n + 1"),
      watch.query(pool, "UPDATE counter SET n = n + 1"),
    ]);
    expect((await writer.query("SELECT n FROM counter")).rows).toEqual([{ n: 2 }]);
  });
});

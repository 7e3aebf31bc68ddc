import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createSqlAnalyzer } from "../src/analysis/index.js";
import { createCacheWatch } from "../src/index.js";
import { createWalSource } from "../src/sources/wal/index.js";
import { nextEvent } from "./support/wait.js";
import { announceWalAvailability, checkWalAvailability, type WalAvailability } from "./wal-support.js";

const db = useTestDatabase("rows_e2e");
let wal: WalAvailability = { ok: false, reason: "not checked" };
let pool: pg.Pool;

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "rows-end-to-end.test.ts");
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES users, title text NOT NULL,
                        score numeric NOT NULL DEFAULT 0, slug text COLLATE "C");
    CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    CREATE TABLE tags (id int PRIMARY KEY, label text COLLATE ci NOT NULL);
    CREATE VIEW post_titles AS SELECT id, title FROM posts;
    CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
    INSERT INTO users VALUES (1, 'ada'), (2, 'grace');
    INSERT INTO posts VALUES (1, 1, 'one', 1, 'one'), (2, 1, 'two', 2, 'two'), (3, 2, 'three', 3, 'three');
  `);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
});

afterAll(async () => {
  await pool?.end();
});

describe("the analyzer's row constraints, with the catalog", () => {
  it("takes key and text columns of ordinary tables, and nothing it cannot compare by text", async () => {
    const analyzer = await createSqlAnalyzer({ connectionString: db.url });
    onTestFinished(() => analyzer.close());
    const rows = async (sql: string) => {
      const result = await analyzer.analyze(sql);
      return (result.rowReads ?? []).map((r) => `${r.table.table}.${r.column}:${r.type}`);
    };
    expect(await rows("SELECT * FROM posts WHERE id = $1")).toEqual(["posts.id:int"]);
    // A key column wins over another constrained column.
    expect(await rows("SELECT * FROM posts WHERE title = 'one' AND author_id = $1")).toEqual([
      "posts.author_id:int",
    ]);
    expect(
      await rows("SELECT * FROM posts p JOIN users u ON u.id = p.author_id WHERE p.author_id = $1"),
    ).toEqual(["posts.author_id:int", "users.id:int"]);
    // numeric: 5 and 5.0 are equal but print differently; a nondeterministic collation: 'A' = 'a'.
    expect(await rows("SELECT * FROM posts WHERE score = $1")).toEqual([]);
    expect(await rows("SELECT * FROM tags WHERE label = $1")).toEqual([]);
    expect(await rows("SELECT * FROM posts WHERE slug = $1")).toEqual(["posts.slug:text"]);
    // Through a view, or a table also read through a view: every row.
    expect(await rows("SELECT * FROM post_titles WHERE id = 1")).toEqual([]);
    expect(await rows("SELECT * FROM posts p JOIN post_titles t ON t.id = p.id WHERE p.id = 1")).toEqual([]);
    expect(await rows("SELECT * FROM events WHERE id = 1")).toEqual([]);
  });
});

describe("row-level invalidation end to end (WAL source)", () => {
  it("an external write to another row keeps the entry; a write to its row drops it; reads stay fresh", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const source = createWalSource({
      connectionString: db.url,
      tables: ["users", "posts"],
      publication: "pgcw_rows_pub",
      heartbeatInterval: 500,
    });
    const watch = createCacheWatch({ connectionString: db.url, source });
    onTestFinished(() => watch.stop());
    await watch.start();
    const writer = await db.externalWriter();
    const title = async (id: number) =>
      (await watch.query<{ title: string }>(pool, "SELECT title FROM posts WHERE id = $1", [id])).rows[0]
        ?.title;
    const byAuthor = async (author: number) =>
      (
        await watch.query<{ title: string }>(
          pool,
          "SELECT title FROM posts WHERE author_id = $1 ORDER BY id",
          [author],
        )
      ).rows.map((r) => r.title);

    expect(await title(1)).toBe("one");
    expect(await title(2)).toBe("two");
    expect(await byAuthor(2)).toEqual(["three"]);
    const hits = watch.stats().hits;
    await title(1);
    expect(watch.stats().hits).toBe(hits + 1);

    let changed = nextEvent(watch, "change", (event) => event.table === "posts");
    await writer.query("UPDATE posts SET title = 'two!' WHERE id = 2");
    await changed;
    // Row 1 survives the write to row 2 (a hit); row 2 is fresh.
    const before = watch.stats().hits;
    expect(await title(1)).toBe("one");
    expect(watch.stats().hits).toBe(before + 1);
    expect(await title(2)).toBe("two!");
    // The author constraint: the event carries no old value of author_id (no REPLICA IDENTITY FULL), so it was dropped.
    expect(await byAuthor(2)).toEqual(["three"]);

    changed = nextEvent(watch, "change", (event) => event.table === "posts");
    await writer.query("INSERT INTO posts VALUES (4, 2, 'four', 0, 'four')");
    await changed;
    expect(await byAuthor(2)).toEqual(["three", "four"]);
    const afterInsert = watch.stats().hits;
    expect(await title(1)).toBe("one");
    expect(watch.stats().hits).toBe(afterInsert + 1);
  });
});

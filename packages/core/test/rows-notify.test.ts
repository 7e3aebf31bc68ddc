import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createCacheWatch } from "../src/index.js";
import { installTriggers } from "../src/triggers/index.js";
import { nextEvent, until } from "./support/wait.js";

const db = useTestDatabase("rows_notify");
let pool: pg.Pool;

beforeAll(async () => {
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES users, title text NOT NULL,
                        slug text COLLATE "C");
    INSERT INTO users VALUES (1, 'ada'), (2, 'grace');
    INSERT INTO posts VALUES (1, 1, 'one', 'one'), (2, 1, 'two', 'two'), (3, 2, 'three', 'three');
    -- Only fixed-width columns: its triggers take the JSON path (posts, with text columns, the general one).
    CREATE TABLE votes (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users, weight int NOT NULL);
    INSERT INTO votes VALUES (1, 1, 10), (2, 1, 20), (3, 2, 30);
  `);
  await installTriggers(setup, { tables: ["users", "posts", "votes"] });
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
});

afterAll(async () => {
  await pool?.end();
});

describe("row-level invalidation end to end (NOTIFY source, revision 3 triggers)", () => {
  it("an external write to another row keeps the entry; a write to its row drops it; reads stay fresh", async () => {
    const watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 500 });
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
    const bySlug = async (slug: string) =>
      (await watch.query<{ id: number }>(pool, "SELECT id FROM posts WHERE slug = $1", [slug])).rows.map(
        (r) => r.id,
      );
    /** Run `read`, and say whether it was a cache hit. */
    const hit = async <T>(read: () => Promise<T>): Promise<{ value: T; hit: boolean }> => {
      const before = watch.stats().hits;
      const value = await read();
      return { value, hit: watch.stats().hits === before + 1 };
    };
    const changed = () => nextEvent(watch, "change", (event) => event.table === "posts");

    expect(await title(1)).toBe("one");
    expect(await title(2)).toBe("two");
    expect(await byAuthor(2)).toEqual(["three"]);
    expect(await bySlug("one")).toEqual([1]);
    expect(await hit(() => title(1))).toEqual({ value: "one", hit: true });

    let event = changed();
    await writer.query("UPDATE posts SET title = 'two!' WHERE id = 2");
    expect((await event)[0]?.columns).toEqual({ id: ["2"], author_id: ["1"] });
    // Row 1 survives the write to row 2 (a hit); row 2 is fresh.
    expect(await hit(() => title(1))).toEqual({ value: "one", hit: true });
    expect(await hit(() => title(2))).toEqual({ value: "two!", hit: false });
    // The event names author 1 only: the reads of author 2 survive too.
    expect(await hit(() => byAuthor(2))).toEqual({ value: ["three"], hit: true });
    // slug is not a key column: the event carries no values for it, so its entries were dropped.
    expect(await hit(() => bySlug("one"))).toEqual({ value: [1], hit: false });

    // A foreign-key move names the old and the new author.
    expect(await byAuthor(1)).toEqual(["one", "two!"]);
    event = changed();
    await writer.query("UPDATE posts SET author_id = 1 WHERE id = 3");
    const [move] = await event;
    // Reads first: with only the new values sent, byAuthor(2) would still serve ["three"].
    expect(await hit(() => byAuthor(2))).toEqual({ value: [], hit: false });
    expect(await hit(() => byAuthor(1))).toEqual({ value: ["one", "two!", "three"], hit: false });
    expect(await hit(() => title(1))).toEqual({ value: "one", hit: true });
    expect(move?.columns).toEqual({ id: ["3"], author_id: ["1", "2"] });

    // A key move drops the entry of the old key and of the new one.
    expect(await title(30)).toBeUndefined();
    event = changed();
    await writer.query("UPDATE posts SET id = 30 WHERE id = 3");
    await event;
    expect(await hit(() => title(30))).toEqual({ value: "three", hit: false });
    expect(await hit(() => title(3))).toEqual({ value: undefined, hit: false });
    expect(await hit(() => title(1))).toEqual({ value: "one", hit: true });

    // Over the row bound: table-wide, everything on posts goes.
    event = changed();
    await writer.query("INSERT INTO posts SELECT i, 2, 'bulk', NULL FROM generate_series(100, 1200) AS i");
    expect((await event)[0]?.columns).toBeUndefined();
    expect(await hit(() => title(1))).toEqual({ value: "one", hit: false });

    // TRUNCATE of another table leaves posts alone.
    await title(1);
    const users = nextEvent(watch, "change", (e) => e.table === "users" && e.operation === "update");
    await writer.query("UPDATE users SET name = 'grace h' WHERE id = 2");
    await users;
    expect(await hit(() => title(1))).toEqual({ value: "one", hit: true });
  });

  it("the same through the JSON path of a table without large columns", async () => {
    const watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 500 });
    onTestFinished(() => watch.stop());
    await watch.start();
    const writer = await db.externalWriter();
    const { rows: args } = await writer.query<{ def: string }>(
      "SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgname = 'pgcachewatch_notify_update' AND tgrelid = 'votes'::regclass",
    );
    expect(args[0]?.def).toContain("'1000j'");
    const weight = async (id: number) =>
      (await watch.query<{ weight: number }>(pool, "SELECT weight FROM votes WHERE id = $1", [id])).rows[0]
        ?.weight;
    const byUser = async (user: number) =>
      (
        await watch.query<{ id: number }>(pool, "SELECT id FROM votes WHERE user_id = $1 ORDER BY id", [user])
      ).rows.map((r) => r.id);
    const hit = async <T>(read: () => Promise<T>): Promise<{ value: T; hit: boolean }> => {
      const before = watch.stats().hits;
      const value = await read();
      return { value, hit: watch.stats().hits === before + 1 };
    };
    const changed = () => nextEvent(watch, "change", (event) => event.table === "votes");
    expect(await weight(1)).toBe(10);
    expect(await weight(3)).toBe(30);
    expect(await byUser(2)).toEqual([3]);

    let event = changed();
    await writer.query("UPDATE votes SET weight = 11 WHERE id = 1");
    await event;
    expect(await hit(() => weight(3))).toEqual({ value: 30, hit: true });
    expect(await hit(() => byUser(2))).toEqual({ value: [3], hit: true });
    expect(await hit(() => weight(1))).toEqual({ value: 11, hit: false });

    // A foreign-key move: the old user's list must go (a trigger sending only new values would keep it).
    event = changed();
    await writer.query("UPDATE votes SET user_id = 1 WHERE id = 3");
    const [move] = await event;
    expect(await hit(() => byUser(2))).toEqual({ value: [], hit: false });
    expect(await hit(() => weight(1))).toEqual({ value: 11, hit: true });
    expect(move?.columns).toEqual({ id: ["3"], user_id: ["1", "2"] });
  });

  it("counts and skips a malformed v2 payload, keeping the entries", async () => {
    const watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 500 });
    onTestFinished(() => watch.stop());
    await watch.start();
    const writer = await db.externalWriter();
    const read = () => watch.query<{ title: string }>(pool, "SELECT title FROM posts WHERE id = $1", [1]);
    await read();
    const malformed = watch.stats().malformedEvents;
    await writer.query("SELECT pg_notify('pgcachewatch', $1)", [
      '{"v":2,"s":"public","t":"posts","op":"update","k":{"id":[1]}}',
    ]);
    await until(() => watch.stats().malformedEvents === malformed + 1);
    const hits = watch.stats().hits;
    await read();
    expect(watch.stats().hits).toBe(hits + 1);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { deferred, nextEvent, until } from "./support/wait.js";

const db = useTestDatabase("engine_notify");
let watch: CacheWatch;
let pool: pg.Pool;
let writer: pg.Client;

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE posts (id int PRIMARY KEY, title text NOT NULL);
    INSERT INTO users VALUES (1, 'ada'), (2, 'grace');
    INSERT INTO posts VALUES (1, 'hello');
  `);
  for (const table of ["users", "posts"]) await createTestTrigger(writer, table);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000 });
  await watch.start();
});

afterAll(async () => {
  await watch?.stop();
  await pool?.end();
});

const readUsers = () =>
  watch.load(
    { key: "users:all", tables: ["users"] },
    async () => (await pool.query("SELECT id, name FROM users ORDER BY id")).rows,
  );
const readPosts = () =>
  watch.load(
    { key: "posts:all", tables: ["posts"] },
    async () => (await pool.query("SELECT id, title FROM posts ORDER BY id")).rows,
  );

describe("engine with the NOTIFY source and an external writer", () => {
  it.each([
    ["insert", "INSERT INTO users VALUES (3, 'linus')"],
    ["update", "UPDATE users SET name = 'ada lovelace' WHERE id = 1"],
    ["delete", "DELETE FROM users WHERE id = 3"],
    ["truncate", "TRUNCATE users"],
  ])("an external %s drops the entries of that table and keeps the others", async (operation, sql) => {
    const before = await readUsers();
    await readPosts();
    expect(await readUsers()).toEqual(before); // hit
    const hitsBefore = watch.stats().hits;
    const invalidated = nextEvent(
      watch,
      "invalidate",
      (info) => info.reason === "change" && info.tables.includes("public.users"),
    );
    await writer.query(sql);
    const [info] = await invalidated;
    expect(info.event?.operation).toBe(operation);
    expect(info.entries).toBe(1);
    const fresh = await readUsers();
    const truth = (await writer.query("SELECT id, name FROM users ORDER BY id")).rows;
    expect(fresh).toEqual(truth);
    await readPosts();
    expect(watch.stats().hits).toBe(hitsBefore + 1); // posts stayed cached
  });

  it("one multi-statement transaction invalidates at commit, once per statement with its rows' keys", async () => {
    const inserted = nextEvent(watch, "invalidate", (info) => info.event?.operation === "insert");
    await writer.query("INSERT INTO users VALUES (10, 'a'), (11, 'b')");
    await inserted;
    await readUsers();
    const received = watch.stats().eventsReceived;
    await writer.query("BEGIN");
    await writer.query("UPDATE users SET name = 'x' WHERE id = 10");
    await writer.query("UPDATE users SET name = 'y' WHERE id = 11");
    // Not committed: the cache still serves the committed state.
    expect((await readUsers()).find((u) => u.id === 10)?.name).toBe("a");
    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "change");
    await writer.query("COMMIT");
    await invalidated;
    await until(() => watch.stats().eventsReceived === received + 2, 10_000, "both statements' events");
    expect((await readUsers()).find((u) => u.id === 10)?.name).toBe("x");
  });

  it("fill guard: a load held open while an external write commits is returned but not stored (rule 1)", async () => {
    await writer.query(
      "INSERT INTO users VALUES (20, 'before') ON CONFLICT (id) DO UPDATE SET name = 'before'",
    );
    watch.invalidateAll();
    const readDone = deferred();
    const release = deferred();
    const rejectedBefore = watch.stats().fillsRejected;
    const pending = watch.load({ key: "user:20", tables: ["users"] }, async () => {
      const { rows } = await pool.query("SELECT name FROM users WHERE id = 20");
      readDone.resolve();
      await release.promise; // the query has run; its result is now old
      return rows[0];
    });
    await readDone.promise;
    const invalidated = nextEvent(
      watch,
      "invalidate",
      (info) => info.reason === "change" && info.tables.includes("public.users"),
    );
    await writer.query("UPDATE users SET name = 'after' WHERE id = 20");
    await invalidated;
    release.resolve();
    expect(await pending).toEqual({ name: "before" });
    expect(watch.stats().fillsRejected).toBe(rejectedBefore + 1);
    const next = await watch.load(
      { key: "user:20", tables: ["users"] },
      async () => (await pool.query("SELECT name FROM users WHERE id = 20")).rows[0],
    );
    expect(next).toEqual({ name: "after" });
  });

  it("counts and skips malformed, foreign and unknown-version payloads, and keeps working", async () => {
    const malformedBefore = watch.stats().malformedEvents;
    const payloads = [
      "not json",
      "[1,2]",
      '{"v":3,"s":"public","t":"users","op":"update"}',
      '{"v":1,"s":"public","t":"users","op":"merge"}',
      '{"v":1,"s":"","t":"users","op":"update"}',
      `{"v":1,"pad":"${"x".repeat(7900)}"}`,
    ];
    for (const payload of payloads) await writer.query("SELECT pg_notify('pgcachewatch', $1)", [payload]);
    await writer.query("SELECT pg_notify('another_channel', 'ignored')");
    await until(
      () => watch.stats().malformedEvents === malformedBefore + payloads.length,
      10_000,
      "malformed count",
    );
    expect(watch.isServing()).toBe(true);
    await readUsers();
    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "change");
    await writer.query("UPDATE users SET name = name WHERE id = 10");
    await invalidated;
  });

  it("exactly one listener connection on the server", async () => {
    const { rows } = await writer.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgcachewatch-listener'",
    );
    expect(rows[0]?.n).toBe(1);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type ChangeEvent, createCacheWatch } from "../src/index.js";
import { createWalSource, type WalSource, type WalSourceOptions } from "../src/sources/wal/index.js";
import { nextEvent, until } from "./support/wait.js";
import { announceWalAvailability, checkWalAvailability, type WalAvailability } from "./wal-support.js";

const db = useTestDatabase("wal_engine");
let wal: WalAvailability = { ok: false, reason: "not checked" };
let pool: pg.Pool;

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-engine.test.ts");
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE tags (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO items VALUES (1, 'old');
    INSERT INTO tags VALUES (1, 'red');
  `);
});

afterAll(async () => {
  await pool?.end();
});

function walWatch(options: Partial<WalSourceOptions> = {}) {
  const source: WalSource = createWalSource({
    connectionString: db.url,
    tables: ["items", "tags"],
    publication: "pgcw_engine_pub",
    heartbeatInterval: 500,
    reconnectDelay: { initial: 50, max: 300 },
    ...options,
  });
  const watch = createCacheWatch({ connectionString: db.url, source });
  onTestFinished(() => watch.stop());
  return { watch, source };
}

const readItem = async (id: number) =>
  (await pool.query<{ name: string }>("SELECT name FROM items WHERE id = $1", [id])).rows[0]?.name;

describe("CacheWatch with the WAL source", () => {
  it('is chosen with source: "wal" and its options under `wal`', async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const watch = createCacheWatch({
      connectionString: db.url,
      source: "wal",
      wal: { tables: ["items"], publication: "pgcw_option_pub", heartbeatInterval: 500 },
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    expect(watch.source?.kind).toBe("wal");
    const read = () => watch.load({ key: "item:1", tables: ["items"] }, () => readItem(1));
    await read();
    const writer = await db.externalWriter();
    const invalidated = nextEvent(
      watch,
      "invalidate",
      (info) => info.reason === "change" && info.tables.includes("public.items"),
    );
    await writer.query("UPDATE items SET name = 'via option' WHERE id = 1");
    await invalidated;
    expect(await read()).toBe("via option");
    await writer.query("UPDATE items SET name = 'old' WHERE id = 1");
  });

  it("invalidates on an external writer's insert, update, delete and truncate (no triggers installed)", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { watch } = walWatch();
    await watch.start();
    expect(watch.isServing()).toBe(true);
    const writer = await db.externalWriter();
    const { rows } = await writer.query("SELECT count(*)::int AS n FROM pg_trigger WHERE NOT tgisinternal");
    expect(rows[0]).toEqual({ n: 0 });

    const count = () =>
      watch.load({ key: "items:count", tables: ["items"] }, async () => {
        const result = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM items");
        return result.rows[0]?.n;
      });
    const tagsRead = () =>
      watch.load(
        { key: "tags:all", tables: ["tags"] },
        async () => (await pool.query("SELECT * FROM tags")).rows,
      );
    expect(await count()).toBe(1);
    await tagsRead();
    expect(await count()).toBe(1);
    expect(watch.stats().hits).toBe(1);

    const statements: [string, number][] = [
      ["INSERT INTO items VALUES (2, 'two')", 2],
      ["UPDATE items SET name = 'dos' WHERE id = 2", 2],
      ["DELETE FROM items WHERE id = 2", 1],
      ["TRUNCATE items", 0],
    ];
    for (const [sql, expected] of statements) {
      const invalidated = nextEvent(watch, "change", (event: ChangeEvent) => event.table === "items");
      await writer.query(sql);
      await invalidated;
      expect(await count()).toBe(expected);
    }
    // The unrelated table's entry survived all of it.
    const hitsBefore = watch.stats().hits;
    await tagsRead();
    expect(watch.stats().hits).toBe(hitsBefore + 1);
    await writer.query("INSERT INTO items VALUES (1, 'old')");
  });

  it("rule 9: a read whose snapshot predates the commit, filled after the first report, is not left cached", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { watch } = walWatch({ visibilityDelay: 400 });
    await watch.start();
    // A snapshot taken before the commit sees the old row, exactly like a snapshot taken in the
    // moment between the WAL flush and the commit becoming visible.
    const oldSnapshot = await db.externalWriter();
    await oldSnapshot.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    await oldSnapshot.query("SELECT 1 FROM items LIMIT 1");
    const writer = await db.externalWriter();
    let windowRead: Promise<string | undefined> | undefined;
    let reports = 0;
    const reported = new Promise<void>((resolve) => {
      watch.on("change", (event: ChangeEvent) => {
        if (event.table !== "items") return;
        reports++;
        if (reports === 1) {
          // In the window: the first invalidation happened, the commit is "not yet visible".
          windowRead = watch.load({ key: "item:1", tables: ["items"] }, async () => {
            const result = await oldSnapshot.query<{ name: string }>("SELECT name FROM items WHERE id = 1");
            return result.rows[0]?.name;
          });
        }
        if (reports === 2) resolve();
      });
    });
    await writer.query("UPDATE items SET name = 'new' WHERE id = 1");
    await until(() => windowRead !== undefined, 10_000, "the first report");
    expect(await windowRead).toBe("old");
    // The stale value passed the fill guard and is cached: this is the hazard rule 9 removes.
    expect(await watch.load({ key: "item:1", tables: ["items"] }, () => readItem(1))).toBe("old");
    // Bounded: without the second report the stale entry would stay, and the next line fails.
    await Promise.race([reported, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    expect(reports).toBe(2);
    expect(await watch.load({ key: "item:1", tables: ["items"] }, () => readItem(1))).toBe("new");
    await oldSnapshot.query("ROLLBACK");
  });

  it("rule 2: terminating the WAL sender flushes, bypasses while down, and serves again once streaming", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { watch, source } = walWatch({ reconnectDelay: { initial: 300, max: 600 } });
    await watch.start();
    await watch.load({ key: "item:1", tables: ["items"] }, () => readItem(1));
    expect(watch.stats().entries).toBe(1);
    const lost = nextEvent(watch, "lost");
    const ready = nextEvent(watch, "ready");
    const admin = await db.externalWriter();
    await admin.query("SELECT pg_terminate_backend($1)", [source.status().walSenderPid]);
    await lost;
    expect(watch.isServing()).toBe(false);
    expect(watch.stats().entries).toBe(0);
    await ready;
    expect(watch.isServing()).toBe(true);
    const writer = await db.externalWriter();
    await watch.load({ key: "item:1", tables: ["items"] }, () => readItem(1));
    const changed = nextEvent(watch, "change", (event: ChangeEvent) => event.table === "items");
    await writer.query("UPDATE items SET name = 'after reconnect' WHERE id = 1");
    await changed;
    expect(await watch.load({ key: "item:1", tables: ["items"] }, () => readItem(1))).toBe("after reconnect");
  });
});

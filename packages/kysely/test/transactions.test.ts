import type { InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cached } from "../src/index.js";
import { type KyselyFixture, openFixture } from "./support/fixture.js";

const database = useTestDatabase("kysely_tx");
let f: KyselyFixture;
/** Invalidations the adapter made for user_settings (no trigger on it: nobody else can). */
let settingsInvalidations: InvalidateInfo[];

beforeAll(async () => {
  f = await openFixture(database);
  f.watch.on("invalidate", (info) => {
    if (info.reason === "mutation" && info.tables.includes("public.user_settings"))
      settingsInvalidations.push(info);
  });
});
beforeEach(() => {
  settingsInvalidations = [];
});
afterAll(async () => {
  await f?.close();
});

const readSettings = (db = f.db) =>
  db
    .selectFrom("user_settings")
    .select(["user_id", "dark_mode"])
    .orderBy("user_id")
    .$call(cached())
    .execute();
const committedSettings = async () =>
  (await f.writer.query("SELECT user_id, dark_mode FROM user_settings ORDER BY user_id")).rows;
const darkMode = (rows: { user_id: number; dark_mode: boolean }[], id: number) =>
  rows.find((r) => r.user_id === id)?.dark_mode;

describe("db.transaction()", () => {
  it("reads inside bypass the cache: they see the transaction's own writes and fill nothing", async () => {
    const outside = await readSettings();
    await readSettings(); // cached now
    const before = f.watch.stats();
    await f.db
      .transaction()
      .execute(async (trx) => {
        await trx.updateTable("user_settings").set({ dark_mode: sql<boolean>`not dark_mode` }).execute();
        const inside = await readSettings(trx);
        expect(darkMode(inside, 1)).toBe(!darkMode(outside, 1));
        const stats = f.watch.stats();
        expect(stats.hits).toBe(before.hits);
        expect(stats.bypassed).toBe(before.bypassed + 1);
        expect(stats.loads).toBe(before.loads);
        throw new RollbackSignal();
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollbackSignal)) throw error;
      });
    // Rolled back: the committed rows are back, and the cache did not keep the transaction's view.
    expect(await readSettings()).toEqual(await committedSettings());
    expect(await readSettings()).toEqual(outside);
  });

  it("a write inside invalidates after COMMIT, not before", async () => {
    const cachedBefore = await readSettings();
    await f.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("user_settings")
        .set({ dark_mode: sql<boolean>`not dark_mode` })
        .where("user_id", "=", 1)
        .execute();
      expect(settingsInvalidations).toHaveLength(0);
      // Another caller still gets the committed (cached) rows while the transaction is open.
      expect(await readSettings()).toEqual(cachedBefore);
    });
    expect(settingsInvalidations).toHaveLength(1);
    const after = await readSettings();
    expect(after).toEqual(await committedSettings());
    expect(darkMode(after, 1)).toBe(!darkMode(cachedBefore, 1));
  });

  it("a rolled-back write invalidates too (always safe) and the committed rows stay", async () => {
    const cachedBefore = await readSettings();
    await f.db
      .transaction()
      .execute(async (trx) => {
        await trx.deleteFrom("user_settings").execute();
        throw new RollbackSignal();
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollbackSignal)) throw error;
      });
    expect(settingsInvalidations).toHaveLength(1);
    expect(await readSettings()).toEqual(cachedBefore);
  });

  it("savepoints: writes complete once, at the end of the transaction", async () => {
    await readSettings();
    const trx = await f.db.startTransaction().execute();
    await trx.updateTable("user_settings").set({ dark_mode: true }).where("user_id", "=", 2).execute();
    const sp = await trx.savepoint("before_delete").execute();
    await sp.deleteFrom("user_settings").execute();
    await sp.rollbackToSavepoint("before_delete").execute();
    expect(await readSettings(trx)).toHaveLength(2);
    expect(settingsInvalidations).toHaveLength(0);
    await trx.commit().execute();
    expect(settingsInvalidations).toHaveLength(2);
    const after = await readSettings();
    expect(after).toEqual(await committedSettings());
    expect(darkMode(after, 2)).toBe(true);
  });
});

describe("db.startTransaction() (controlled)", () => {
  it("reads bypass, writes invalidate at commit", async () => {
    const cachedBefore = await readSettings();
    const before = f.watch.stats();
    const trx = await f.db.startTransaction().execute();
    await trx.updateTable("user_settings").set({ dark_mode: sql<boolean>`not dark_mode` }).execute();
    const inside = await readSettings(trx);
    expect(darkMode(inside, 2)).toBe(!darkMode(cachedBefore, 2));
    expect(f.watch.stats().hits).toBe(before.hits);
    expect(settingsInvalidations).toHaveLength(0);
    expect(await readSettings()).toEqual(cachedBefore);
    await trx.commit().execute();
    expect(settingsInvalidations).toHaveLength(1);
    expect(await readSettings()).toEqual(inside);
  });
});

describe("db.connection()", () => {
  it("reads on a reserved connection bypass the cache", async () => {
    const cachedBefore = await readSettings();
    await readSettings();
    const before = f.watch.stats();
    const rows = await f.db.connection().execute(async (conn) => {
      const first = await readSettings(conn);
      const second = await readSettings(conn);
      expect(second).toEqual(first);
      return first;
    });
    expect(rows).toEqual(cachedBefore);
    expect(f.watch.stats().hits).toBe(before.hits);
    expect(f.watch.stats().bypassed).toBe(before.bypassed + 2);
  });

  it("a raw BEGIN on a reserved connection defers its writes' invalidation to the release", async () => {
    const cachedBefore = await readSettings();
    await f.db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      await conn.updateTable("user_settings").set({ dark_mode: sql<boolean>`not dark_mode` }).execute();
      expect(settingsInvalidations).toHaveLength(0);
      expect(await readSettings()).toEqual(cachedBefore);
      await sql`commit`.execute(conn);
    });
    expect(settingsInvalidations).toHaveLength(1);
    const after = await readSettings();
    expect(after).toEqual(await committedSettings());
    expect(after).not.toEqual(cachedBefore);
  });

  it("writes in autocommit on a reserved connection invalidate on completion", async () => {
    const cachedBefore = await readSettings();
    await f.db.connection().execute(async (conn) => {
      await conn.updateTable("user_settings").set({ dark_mode: sql<boolean>`not dark_mode` }).execute();
      expect(settingsInvalidations).toHaveLength(1);
      const fresh = await readSettings();
      expect(fresh).toEqual(await committedSettings());
      expect(fresh).not.toEqual(cachedBefore);
    });
  });
});

class RollbackSignal extends Error {}

import { createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createWorkloadSchema } from "../src/index.js";
import { nextEvent } from "./support.js";

/**
 * Found by the chaos run (rule A, one read in 1.2 million): a caller that arrives after a change was
 * delivered must not join a load that began before the change. That load may have read the old row;
 * its result is (rightly) not stored, but it was still handed to the late caller.
 */
const db = useTestDatabase("chaos_join");
const items = { schema: "public", table: "items" };
let pool: pg.Pool;
let writer: pg.Client;
beforeAll(async () => {
  writer = await db.externalWriter();
  await createWorkloadSchema(writer, items, 1, "pgcachewatch");
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
});
afterAll(async () => {
  await pool?.end();
});

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe("a caller that starts after an invalidation never gets a load that began before it", () => {
  it("external write delivered while a load is in flight: the next caller loads afresh", async () => {
    const watch = createCacheWatch({ connectionString: db.url });
    onTestFinished(() => watch.stop());
    await watch.start();
    const readDone = gate();
    const release = gate();
    const first = watch.load({ key: "item:1", tables: [items] }, async () => {
      const row = (await pool.query("SELECT version::int AS version FROM items WHERE id = 1")).rows[0];
      readDone.open();
      await release.opened; // the query has run; its result is on its way back
      return row;
    });
    await readDone.opened;
    const delivered = nextEvent(watch, "invalidate", (info) => info.tables.includes("public.items"));
    const { rows } = await writer.query<{ version: number }>(
      "UPDATE items SET version = version + 1 WHERE id = 1 RETURNING version::int AS version",
    );
    await delivered;
    // Started after the change was delivered: must reflect it.
    const second = watch.load(
      { key: "item:1", tables: [items] },
      async () => (await pool.query("SELECT version::int AS version FROM items WHERE id = 1")).rows[0],
    );
    release.open();
    expect(await first).toEqual({ version: rows[0]!.version - 1 });
    expect(await second).toEqual({ version: rows[0]!.version });
    expect(watch.stats().entries).toBe(1);
    expect(await watch.load({ key: "item:1", tables: [items] }, async () => ({ version: -1 }))).toEqual({
      version: rows[0]!.version,
    });
  });

  it.each([
    ["a table invalidation", (w: ReturnType<typeof createCacheWatch>) => w.invalidate({ tables: ["t"] })],
    ["a completed mutation", (w: ReturnType<typeof createCacheWatch>) => w.beginMutation(["t"]).complete()],
    ["a flush of everything", (w: ReturnType<typeof createCacheWatch>) => w.invalidateAll()],
    ["a user tag", (w: ReturnType<typeof createCacheWatch>) => w.invalidate({ tags: ["x"] })],
  ])("after %s, a new caller does not join the older load", async (_, invalidate) => {
    const watch = createCacheWatch({ source: "none" });
    onTestFinished(() => watch.stop());
    await watch.start();
    const release = gate();
    const first = watch.load({ key: "k", tables: ["t"], tags: ["x"] }, async () => {
      await release.opened;
      return "old";
    });
    await Promise.resolve();
    invalidate(watch);
    const second = watch.load({ key: "k", tables: ["t"], tags: ["x"] }, async () => "new");
    release.open();
    expect(await first).toBe("old");
    expect(await second).toBe("new");
    expect(await watch.load({ key: "k", tables: ["t"] }, async () => "unexpected load")).toBe("new");
  });

  it("an invalidation of another table leaves the load joinable (single flight still holds)", async () => {
    const watch = createCacheWatch({ source: "none" });
    onTestFinished(() => watch.stop());
    await watch.start();
    const release = gate();
    let loads = 0;
    const load = async () => {
      loads++;
      await release.opened;
      return "v";
    };
    const first = watch.load({ key: "k", tables: ["t"] }, load);
    watch.invalidate({ tables: ["other"] });
    const second = watch.load({ key: "k", tables: ["t"] }, load);
    release.open();
    expect([await first, await second]).toEqual(["v", "v"]);
    expect(loads).toBe(1);
  });

  it("stop() still waits for a load that was detached by an invalidation", async () => {
    const watch = createCacheWatch({ source: "none" });
    await watch.start();
    const release = gate();
    let finished = false;
    const first = watch.load({ key: "k", tables: ["t"] }, async () => {
      await release.opened;
      finished = true;
      return 1;
    });
    watch.invalidate({ tables: ["t"] });
    const stopped = watch.stop();
    release.open();
    await stopped;
    expect(finished).toBe(true);
    expect(await first).toBe(1);
  });
});

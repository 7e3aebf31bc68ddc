import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { sql } from "kysely";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cached } from "../src/index.js";
import { type KyselyFixture, openFixture } from "./support/fixture.js";
import { changeOf, within } from "./support/wait.js";

const database = useTestDatabase("kysely_pool");
let f: KyselyFixture;

beforeAll(async () => {
  f = await openFixture(database, { max: 2 });
});
afterAll(async () => {
  await f?.close();
});

const readUsers = (signal?: AbortSignal) =>
  f.db
    .selectFrom("users")
    .select(["id", "name", "profile"])
    .orderBy("id")
    .$call(cached())
    .execute(signal ? { signal } : undefined);

/** Check out every connection of the pool; the caller releases them. */
async function exhaustPool(): Promise<pg.PoolClient[]> {
  const held = [await f.pool.connect(), await f.pool.connect()];
  expect(f.pool.totalCount).toBe(2);
  expect(f.pool.idleCount).toBe(0);
  return held;
}

describe("a cache hit never touches the pool", () => {
  it("returns with every pool connection checked out", async () => {
    const warm = await readUsers();
    const held = await exhaustPool();
    try {
      const checkouts = f.poolCheckouts();
      const hits = f.watch.stats().hits;
      const hit = await within(readUsers(), "a cache hit with the pool exhausted");
      expect(hit).toEqual(warm);
      expect(f.watch.stats().hits).toBe(hits + 1);
      expect(f.poolCheckouts()).toBe(checkouts);
      expect(f.pool.waitingCount).toBe(0);

      // With an AbortSignal Kysely takes another path to the connection: still no pool.
      const withSignal = await within(readUsers(new AbortController().signal), "a hit with a signal");
      expect(withSignal).toEqual(warm);
      expect(f.poolCheckouts()).toBe(checkouts);
    } finally {
      for (const client of held) client.release();
    }
  });

  it("a hit does no analysis: the analyzer's counters stay put", async () => {
    await readUsers();
    const counters = { ...f.watch.analyzer.counters };
    const hits = f.watch.stats().hits;
    for (let i = 0; i < 20; i++) await readUsers();
    expect(f.watch.stats().hits).toBe(hits + 20);
    expect(f.watch.analyzer.counters).toEqual(counters);
  });

  it("while an uncached query with the pool exhausted does wait for a connection (the control)", async () => {
    const held = await exhaustPool();
    const uncached = f.db.selectFrom("users").select("id").execute();
    try {
      await within(
        (async () => {
          while (f.pool.waitingCount === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        })(),
        "the uncached query to queue on the pool",
      );
      expect(f.pool.waitingCount).toBe(1);
    } finally {
      for (const client of held) client.release();
    }
    expect(await uncached).toHaveLength(2);
  });

  it("concurrent misses of one query load once, on one pool connection", async () => {
    const changed = changeOf(f.watch, "public.users");
    await f.writer.query("UPDATE users SET name = name WHERE id = 1");
    await changed;
    const before = f.watch.stats();
    const checkouts = f.poolCheckouts();
    const results = await Promise.all(Array.from({ length: 6 }, () => readUsers()));
    for (const result of results) expect(result).toEqual(results[0]);
    // Every caller gets its own copy.
    expect(new Set(results).size).toBe(6);
    expect(f.watch.stats().loads).toBe(before.loads + 1);
    expect(f.poolCheckouts()).toBe(checkouts + 1);
  });

  it("a hit returns fresh Date objects equal to the loaded ones", async () => {
    const query = () =>
      f.db.selectFrom("posts").select(["created_at", "title"]).where("id", "=", 1).$call(cached()).execute();
    const miss = await query();
    const hit = await query();
    expect(hit).toEqual(miss);
    expect(hit[0]?.created_at).toBeInstanceOf(Date);
    expect(hit[0]?.created_at).not.toBe(miss[0]?.created_at);
  });
});

describe("errors and aborts", () => {
  it("a failing cached query is not cached: every call reaches the database and fails", async () => {
    const failing = () =>
      f.db.selectFrom("users").select(sql<number>`1 / ${0}`.as("x")).$call(cached()).execute();
    const before = f.watch.stats();
    await expect(failing()).rejects.toThrow(/division by zero/);
    await expect(failing()).rejects.toThrow(/division by zero/);
    expect(f.watch.stats().loadErrors).toBe(before.loadErrors + 2);
    expect(f.watch.stats().hits).toBe(before.hits);
  });

  it("an aborted caller gets its abort; the load finishes in the background and serves the next caller", async () => {
    const errors = vi.spyOn(console, "error");
    const slow = (signal?: AbortSignal) =>
      f.db
        .selectFrom("users")
        .select(["id", sql<string>`pg_sleep(0.2)::text`.as("slept")])
        .where("id", "=", 1)
        .$call(cached({ tables: ["users"] }))
        .execute(signal ? { signal } : undefined);
    const before = f.watch.stats();
    const controller = new AbortController();
    const aborted = slow(controller.signal);
    controller.abort(new Error("caller gave up"));
    await expect(aborted).rejects.toThrow("caller gave up");
    // Joins the load still running (or hits what it stored): no second load.
    expect(await within(slow(), "the next caller")).toEqual([{ id: 1, slept: "" }]);
    expect(f.watch.stats().loads).toBe(before.loads + 1);
    expect(errors).not.toHaveBeenCalled();
    errors.mockRestore();
  });
});

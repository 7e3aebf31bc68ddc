import {
  type CacheWatch,
  type ChangeSource,
  cached,
  createCacheWatch,
  InvalidTableNameError,
  LoadAbortedError,
  LoadTimeoutError,
  PgCacheWatchError,
} from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createWorkloadSchema, hostilePayloads, prototypePolluted, settledHeapBytes } from "../src/index.js";
import { qualified } from "../src/workload-schema.js";
import { nextEvent, until, within } from "./support.js";

const db = useTestDatabase("chaos_hostile");
const items = { schema: "public", table: "items" };

let pool: pg.Pool;
let writer: pg.Client;
beforeAll(async () => {
  writer = await db.externalWriter();
  await createWorkloadSchema(writer, items, 4, "pgcachewatch");
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on("error", () => {});
});
afterAll(async () => {
  await pool?.end();
});

async function startedWatch(options: Parameters<typeof createCacheWatch>[0] = {}): Promise<CacheWatch> {
  const watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000, ...options });
  onTestFinished(() => watch.stop());
  await watch.start();
  return watch;
}

const readItem = (watch: CacheWatch, id = 1) =>
  watch.load(
    { key: `item:${id}`, tables: [items] },
    async () => (await pool.query("SELECT version::int AS version FROM items WHERE id = $1", [id])).rows[0],
  );

/** A source that never becomes ready: the engine bypasses the cache for as long as it runs. */
const neverReady: ChangeSource = { kind: "never-ready", async start() {}, async stop() {} };

describe("hostile payloads on the channel", () => {
  it("counts every malformed payload, lets foreign valid ones pass harmlessly, keeps serving, and still hears real writes", async () => {
    const watch = await startedWatch();
    await readItem(watch);
    expect(watch.stats().entries).toBe(1);
    const before = watch.stats();
    const payloads = hostilePayloads();
    const malformed = payloads.filter((p) => p.malformed).length;
    for (const { payload } of payloads) await writer.query("SELECT pg_notify('pgcachewatch', $1)", [payload]);
    // The server itself refuses 8000 bytes: the engine never sees it.
    await expect(writer.query("SELECT pg_notify('pgcachewatch', $1)", ["x".repeat(8000)])).rejects.toThrow(
      /payload string too long/,
    );
    await until(
      () => watch.stats().malformedEvents === before.malformedEvents + malformed,
      10_000,
      "malformed count",
    );
    await until(
      () => watch.stats().eventsReceived === before.eventsReceived + payloads.length - malformed,
      10_000,
      "foreign events",
    );
    expect(prototypePolluted()).toBe(false);
    expect(watch.isServing()).toBe(true);
    // None of them named a table we cached.
    expect(watch.stats()).toMatchObject({ entries: 1, losses: 0 });
    const invalidated = nextEvent(watch, "invalidate", (info) => info.tables.includes("public.items"));
    await writer.query("UPDATE items SET version = version + 1 WHERE id = 1");
    await invalidated;
    expect(watch.stats().entries).toBe(0);
  });
});

describe("hostile channel names", () => {
  it("listens on a channel with quotes, spaces and SQL in it, and hears a trigger that notifies on it", async () => {
    const channel = `chan "x"; DROP TABLE items; --`;
    const target = { schema: "public", table: "items_on_odd_channel" };
    await createWorkloadSchema(writer, target, 1, channel);
    const watch = await startedWatch({ channel });
    const read = () =>
      watch.load({ key: "odd", tables: [target] }, async () => (await pool.query(`SELECT 1 AS one`)).rows);
    await read();
    const invalidated = nextEvent(watch, "invalidate", (info) =>
      info.tables.includes(`public.${target.table}`),
    );
    await writer.query(`UPDATE ${qualified(target)} SET version = version + 1`);
    await invalidated;
    expect((await writer.query("SELECT count(*)::int AS n FROM items")).rows[0].n).toBe(4);
  });

  it.each([
    ["empty", ""],
    ["a NUL byte", "a\u0000b"],
    ["64 bytes (PostgreSQL would truncate it and never deliver on it)", "c".repeat(64)],
  ])(
    "rejects a channel that is %s with a typed error instead of never becoming ready",
    async (_, channel) => {
      const attempt = within(
        (async () => {
          const watch = createCacheWatch({ connectionString: db.url, channel, heartbeatInterval: 500 });
          try {
            await watch.start();
          } finally {
            await watch.stop();
          }
        })(),
        5_000,
      );
      const outcome = await attempt;
      expect(outcome.status).toBe("rejected");
      if (outcome.status === "rejected") {
        expect(outcome.reason).toBeInstanceOf(PgCacheWatchError);
        expect((outcome.reason as PgCacheWatchError).code).toBe("INVALID_CHANNEL");
      }
    },
  );
});

describe("hostile table names", () => {
  it.each([
    ["empty", ""],
    ["empty schema", ".items"],
    ["a NUL byte", "it\u0000ems"],
    ["64 bytes", "t".repeat(64)],
    ["64 bytes of two-byte characters", "\u00e9".repeat(32)],
  ])("a name that cannot exist (%s) is an InvalidTableNameError at every entry point", async (_, name) => {
    const watch = await startedWatch({ source: "none" });
    await expect(watch.load({ key: "k", tables: [name] }, async () => 1)).rejects.toBeInstanceOf(
      InvalidTableNameError,
    );
    expect(() => watch.beginMutation([name])).toThrow(InvalidTableNameError);
    expect(() => watch.invalidate({ tables: [name] })).toThrow(InvalidTableNameError);
    const fn = cached(async () => 1, { watch, tables: [name] });
    await expect(fn()).rejects.toBeInstanceOf(InvalidTableNameError);
    expect(watch.stats().entries).toBe(0);
  });

  it("awkward but valid names are data: a real table by each name is cached and invalidated by an external write", async () => {
    const names = [
      `it"ems'; DROP TABLE items; --`,
      "Items With Spaces",
      "dotted.name",
      `${"\u00e9".repeat(31)}x`, // 63 bytes
      "\u{1F600}emoji",
    ];
    const watch = await startedWatch();
    for (const [i, table] of names.entries()) {
      const target = { schema: i % 2 === 0 ? "public" : `schema ${i}"`, table };
      await createWorkloadSchema(writer, target, 1, "pgcachewatch");
      let loads = 0;
      const read = () =>
        watch.load({ key: `awkward:${i}`, tables: [target] }, async () => {
          loads++;
          return (await pool.query(`SELECT version::int AS version FROM ${qualified(target)}`)).rows[0];
        });
      expect(await read()).toEqual({ version: 0 });
      await read();
      expect(loads).toBe(1);
      const invalidated = nextEvent(watch, "invalidate", (info) =>
        info.tables.includes(`${target.schema}.${table}`),
      );
      await writer.query(`UPDATE ${qualified(target)} SET version = version + 1`);
      await invalidated;
      expect(await read()).toEqual({ version: 1 });
      expect(loads).toBe(2);
    }
    expect((await writer.query("SELECT count(*)::int AS n FROM items")).rows[0].n).toBe(4);
  });
});

describe("hostile results", () => {
  it("a result bigger than maxBytes is returned intact but not cached", async () => {
    const watch = await startedWatch({ maxBytes: 1024 * 1024 });
    let loads = 0;
    const read = () =>
      watch.load({ key: "big", tables: [items] }, async () => {
        loads++;
        return (await pool.query("SELECT repeat('x', 2000000) AS blob")).rows[0] as { blob: string };
      });
    expect((await read()).blob.length).toBe(2_000_000);
    expect((await read()).blob.length).toBe(2_000_000);
    expect(loads).toBe(2);
    expect(watch.stats()).toMatchObject({ entries: 0, bytes: 0, fillsTooLarge: 2 });
  });

  it("a jsonb value nested too deeply to copy reaches every concurrent caller (not cached, no hang, no unhandled rejection)", async () => {
    const watch = await startedWatch();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    onTestFinished(() => void process.off("unhandledRejection", onUnhandled));
    const load = async () =>
      (await pool.query("SELECT (repeat('[', 1500) || repeat(']', 1500))::jsonb AS doc")).rows[0] as {
        doc: unknown;
      };
    const callers = [1, 2, 3].map(() => within(watch.load({ key: "deep", tables: [items] }, load), 5_000));
    const outcomes = await Promise.all(callers);
    for (const outcome of outcomes) expect(outcome.status).toBe("fulfilled");
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
    expect(watch.stats()).toMatchObject({ entries: 0, loads: 1, fillsTooLarge: 1 });
  });

  it("a cyclic result reaches every concurrent caller, and is cached with its cycle reproduced", async () => {
    const watch = await startedWatch({ source: "none" });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    onTestFinished(() => void process.off("unhandledRejection", onUnhandled));
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const load = async () => {
      await new Promise((r) => setTimeout(r, 10));
      return cyclic;
    };
    const outcomes = await Promise.all(
      [1, 2].map(() => within(watch.load({ key: "cyclic", tables: ["t"] }, load), 5_000)),
    );
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled"]);
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
    // The copier keeps an identity map: a cycle is copied as a cycle, not expanded.
    expect(watch.stats().entries).toBe(1);
    const hit = (await watch.load({ key: "cyclic", tables: ["t"] }, load)) as { self?: unknown };
    expect(hit).not.toBe(cyclic);
    expect(hit.self).toBe(hit);
  });
});

describe("hostile loads", () => {
  it.each([
    ["a string", "boom"],
    ["undefined", undefined],
    ["null", null],
    ["an Error subclass", new TypeError("bad")],
  ])(
    "a load that throws %s: every waiter gets it, nothing is cached, the next call loads again",
    async (_, thrown) => {
      const watch = await startedWatch();
      let calls = 0;
      const load = async () => {
        calls++;
        await pool.query("SELECT 1");
        throw thrown;
      };
      const results = await Promise.allSettled(
        [1, 2, 3].map(() => watch.load({ key: "throws", tables: [items] }, load)),
      );
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBe(thrown);
      expect(calls).toBe(1);
      await expect(watch.load({ key: "throws", tables: [items] }, load)).rejects.toBe(thrown);
      expect(calls).toBe(2);
      expect(watch.stats().entries).toBe(0);
    },
  );

  it("a load that throws synchronously is a rejection, not an exception out of load()", async () => {
    const watch = await startedWatch({ source: "none" });
    const syncThrow = (() => {
      throw new RangeError("sync");
    }) as unknown as () => Promise<number>;
    await expect(watch.load({ key: "sync", tables: ["t"] }, syncThrow)).rejects.toThrow("sync");
    await expect(watch.load({ key: "sync", tables: undefined }, syncThrow)).rejects.toThrow("sync");
  });

  it("a query that hangs past loadTimeout fails with LoadTimeoutError while serving, and the next caller loads afresh", async () => {
    const watch = await startedWatch({ loadTimeout: 300 });
    const outcome = await within(
      watch.load({ key: "hang", tables: [items] }, async () => (await pool.query("SELECT pg_sleep(3)")).rows),
      10_000,
    );
    expect(outcome.status).toBe("rejected");
    if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(LoadTimeoutError);
    expect(await readItem(watch)).toEqual({ version: expect.any(Number) });
    expect(watch.stats().loadTimeouts).toBe(1);
  });

  it("loadTimeout also bounds a load while the listener is down (bypass)", async () => {
    const watch = createCacheWatch({ source: neverReady, loadTimeout: 300 });
    onTestFinished(() => watch.stop());
    void watch.start().catch(() => {});
    expect(watch.isServing()).toBe(false);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    onTestFinished(async () => {
      await writer.query("SELECT pg_cancel_backend($1)", [
        (client as unknown as { processID: number }).processID,
      ]);
      await client.end();
    });
    const outcome = await within(
      watch.load(
        { key: "hang", tables: [items] },
        async () => (await client.query("SELECT pg_sleep(5)")).rows,
      ),
      4_000,
    );
    expect(outcome.status).toBe("rejected");
    if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(LoadTimeoutError);
  });

  it("an aborted caller gets LoadAbortedError at once, also while the listener is down (bypass)", async () => {
    for (const source of ["notify", neverReady] as const) {
      const watch = createCacheWatch({ connectionString: db.url, source });
      onTestFinished(() => watch.stop());
      if (source === "notify") await watch.start();
      else void watch.start().catch(() => {});
      const controller = new AbortController();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const pending = within(
        watch.load({ key: "abort", tables: [items], signal: controller.signal }, async () => {
          await gate; // ignores the signal, like most query builders
          return 1;
        }),
        4_000,
      );
      setTimeout(() => controller.abort(new Error("caller gave up")), 20);
      const outcome = await pending;
      release();
      expect(outcome.status).toBe("rejected");
      if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(LoadAbortedError);
    }
  });
});

describe("bounded memory", () => {
  it("100k distinct keys through cached() while an external writer keeps invalidating: under maxBytes, heap bounded", async () => {
    const maxBytes = 2 * 1024 * 1024;
    const watch = await startedWatch({ maxBytes, maxEntries: 1_000_000 });
    const payload = "p".repeat(500);
    const lookup = cached(async (id: number) => ({ id, payload: `${payload}${id}` }), {
      watch,
      tables: [items],
      name: "lookup",
    });
    let writing = true;
    const writes = (async () => {
      while (writing) {
        await writer.query("UPDATE items SET version = version + 1 WHERE id = 2");
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const heapBefore = settledHeapBytes();
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      const value = await lookup(i);
      if (value.id !== i) throw new Error(`lookup(${i}) returned ${value.id}`);
      if (i % 500 === 0) {
        peak = Math.max(peak, watch.stats().bytes);
        await new Promise((r) => setImmediate(r)); // let notifications in
      }
    }
    writing = false;
    await writes;
    const heapAfter = settledHeapBytes();
    const stats = watch.stats();
    expect(peak).toBeLessThanOrEqual(maxBytes);
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    expect(stats.eventsReceived).toBeGreaterThan(0);
    expect(stats.evictions + stats.entriesInvalidated).toBeGreaterThan(80_000);
    // 100k values of ~1 KB held unbounded would be ~100 MB.
    expect(heapAfter - heapBefore).toBeLessThan(24 * 1024 * 1024);
  }, 120_000);

  it("invalidating 200k distinct tags while a load is in flight keeps the fill guard's memory bounded", async () => {
    const watch = await startedWatch({ source: "none" });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // A load that stays in flight (a slow query, or one that hangs with no loadTimeout).
    const pending = watch.load({ key: "slow", tables: ["t"] }, async () => {
      await gate;
      return 1;
    });
    const before = settledHeapBytes();
    for (let i = 0; i < 200_000; i++) {
      watch.invalidate({ tags: [`entity:${i}`] });
      // Halfway, the table the load depends on changes: whatever bounds the memory must still refuse its fill (rule 1).
      if (i === 100_000) watch.invalidate({ tables: ["t"] });
    }
    const growth = settledHeapBytes() - before;
    release();
    expect(await pending).toBe(1);
    expect(watch.stats()).toMatchObject({ fillsRejected: 1, entries: 0 });
    expect(growth).toBeLessThan(4 * 1024 * 1024);
  });
});

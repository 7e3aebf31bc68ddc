import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { cloneValue } from "../src/adapter.js";
import { createCacheWatch, LoadAbortedError, LoadTimeoutError } from "../src/index.js";
import { deferred } from "./support/wait.js";

// Pure engine logic, no change source: `source: "none"` serves as soon as started.
async function engine(options: Parameters<typeof createCacheWatch>[0] = {}) {
  const watch = createCacheWatch({ source: "none", ...options });
  await watch.start();
  return watch;
}

describe("engine: hits, misses, tags", () => {
  it("serves a hit without calling the loader and drops entries by table", async () => {
    const watch = await engine();
    let calls = 0;
    const load = (key: string, tables: string[]) =>
      watch.load({ key, tables }, async () => ({ key, n: ++calls }));
    expect(await load("a", ["users"])).toEqual({ key: "a", n: 1 });
    expect(await load("a", ["users"])).toEqual({ key: "a", n: 1 });
    expect(await load("b", ["posts"])).toEqual({ key: "b", n: 2 });
    expect(watch.invalidate({ tables: ["public.users"] })).toBe(1);
    expect(await load("a", ["users"])).toEqual({ key: "a", n: 3 });
    expect(await load("b", ["posts"])).toEqual({ key: "b", n: 2 });
    expect(watch.stats()).toMatchObject({ hits: 2, misses: 3, loads: 3, entries: 2 });
    await watch.stop();
  });

  it("does not cache reads with unknown tables or inside transactions (rules 3 and 5)", async () => {
    const watch = await engine();
    let calls = 0;
    const loader = async () => ++calls;
    await watch.load({ key: "raw", tables: undefined }, loader);
    await watch.load({ key: "raw", tables: undefined }, loader);
    await watch.load({ key: "tx", tables: ["users"], inTransaction: true }, loader);
    await watch.load({ key: "tx", tables: ["users"], inTransaction: true }, loader);
    expect(calls).toBe(4);
    // Dependencies are decided at fill time: a read that reports no statement and names no tables
    // runs as a load whose result is not stored; a read in a transaction bypasses the cache.
    expect(watch.stats()).toMatchObject({ bypassed: 2, fillsUncacheable: 2, entries: 0 });
    await watch.stop();
  });

  it("bypasses before start and after stop", async () => {
    const watch = createCacheWatch({ source: "none" });
    let calls = 0;
    await watch.load({ key: "k", tables: ["t"] }, async () => ++calls);
    await watch.start();
    await watch.stop();
    await watch.load({ key: "k", tables: ["t"] }, async () => ++calls);
    expect(calls).toBe(2);
    expect(watch.stats().bypassed).toBe(2);
  });

  it("keys tables by schema: audit.users is not public.users", async () => {
    const watch = await engine();
    await watch.load({ key: "x", tables: ["audit.users"] }, async () => 1);
    expect(watch.invalidate({ tables: ["users"] })).toBe(0);
    expect(watch.invalidate({ tables: [{ schema: "audit", table: "users" }] })).toBe(1);
    await watch.stop();
  });

  it("user tags invalidate their entries", async () => {
    const watch = await engine();
    await watch.load({ key: "x", tables: ["t"], tags: ["dashboard"] }, async () => 1);
    await watch.load({ key: "y", tables: ["t"] }, async () => 1);
    expect(watch.invalidate({ tags: ["dashboard"] })).toBe(1);
    expect(watch.stats().entries).toBe(1);
    await watch.stop();
  });

  it("read-your-writes: a completed mutation drops its tables' entries (rule 4)", async () => {
    const watch = await engine();
    await watch.load({ key: "x", tables: ["users"] }, async () => "old");
    const mutation = watch.beginMutation(["users"]);
    mutation.complete();
    expect(await watch.load({ key: "x", tables: ["users"] }, async () => "new")).toBe("new");
    await watch.stop();
  });

  it("a load that overlaps a mutation is returned but not stored (rule 1 with rule 4)", async () => {
    const watch = await engine();
    const gate = deferred();
    const pending = watch.load({ key: "x", tables: ["users"] }, async () => {
      await gate.promise;
      return "read before the write";
    });
    const mutation = watch.beginMutation(["users"]);
    gate.resolve();
    expect(await pending).toBe("read before the write");
    mutation.complete();
    expect(watch.stats()).toMatchObject({ fillsRejected: 1, entries: 0 });
    await watch.stop();
  });
});

describe("engine: hooks for adapters", () => {
  it("a loader can return its result to every waiter without storing it", async () => {
    const watch = await engine();
    const gate = deferred();
    let calls = 0;
    const load = () =>
      watch.load({ key: "k", tables: ["t"] }, async (_signal, control) => {
        calls++;
        await gate.promise;
        control.doNotStore();
        return { v: 1 };
      });
    const waiters = [load(), load()];
    gate.resolve();
    expect(await Promise.all(waiters)).toEqual([{ v: 1 }, { v: 1 }]);
    expect(calls).toBe(1);
    expect(watch.stats().entries).toBe(0);
    await load();
    expect(calls).toBe(2);
    await watch.stop();
  });

  it("a mutation can complete with tables it turned out to touch", async () => {
    const watch = await engine();
    await watch.load({ key: "a", tables: ["a"] }, async () => 1);
    await watch.load({ key: "b", tables: ["b"] }, async () => 1);
    watch.beginMutation(["a"]).complete(["b"]);
    expect(watch.stats().entries).toBe(0);
    await watch.stop();
  });

  it("exposes its state", async () => {
    const watch = createCacheWatch({ source: "none" });
    expect(watch.state).toBe("idle");
    await watch.start();
    expect(watch.state).toBe("serving");
    await watch.stop();
    expect(watch.state).toBe("stopped");
  });
});

describe("engine: single flight, errors, aborts, timeouts (rule 7)", () => {
  it("1000 concurrent callers of one key cause one load", async () => {
    const watch = await engine();
    const gate = deferred();
    let calls = 0;
    const callers = Array.from({ length: 1000 }, () =>
      watch.load({ key: "hot", tables: ["t"] }, async () => {
        calls++;
        await gate.promise;
        return { rows: [1, 2, 3] };
      }),
    );
    gate.resolve();
    const results = await Promise.all(callers);
    expect(calls).toBe(1);
    expect(results.every((r) => r.rows.length === 3)).toBe(true);
    // Each caller got its own object.
    expect(new Set(results).size).toBe(1000);
    expect(watch.stats()).toMatchObject({ loads: 1, misses: 1000 });
    await watch.stop();
  });

  it("delivers a load's error to every waiter and caches nothing", async () => {
    const watch = await engine();
    const gate = deferred();
    const boom = new Error("query failed");
    const callers = Array.from({ length: 5 }, () =>
      watch.load({ key: "bad", tables: ["t"] }, async () => {
        await gate.promise;
        throw boom;
      }),
    );
    gate.resolve();
    const settled = await Promise.allSettled(callers);
    expect(settled.every((s) => s.status === "rejected" && s.reason === boom)).toBe(true);
    expect(await watch.load({ key: "bad", tables: ["t"] }, async () => "recovered")).toBe("recovered");
    expect(watch.stats()).toMatchObject({ loadErrors: 1, loads: 2 });
    await watch.stop();
  });

  it("an aborted first caller does not strand the others", async () => {
    const watch = await engine();
    const gate = deferred();
    const controller = new AbortController();
    let loaderSignal: AbortSignal | undefined;
    const first = watch.load({ key: "k", tables: ["t"], signal: controller.signal }, async (signal) => {
      loaderSignal = signal;
      await gate.promise;
      return "value";
    });
    const second = watch.load({ key: "k", tables: ["t"] }, async () => "never called");
    controller.abort();
    await expect(first).rejects.toBeInstanceOf(LoadAbortedError);
    gate.resolve();
    expect(await second).toBe("value");
    expect(loaderSignal?.aborted).toBe(false);
    await watch.stop();
  });

  it("cancels the load when every waiter has aborted, and the next caller loads afresh", async () => {
    const watch = await engine();
    const controller = new AbortController();
    let loaderSignal: AbortSignal | undefined;
    const first = watch.load({ key: "k", tables: ["t"], signal: controller.signal }, (signal) => {
      loaderSignal = signal;
      return new Promise<string>(() => {});
    });
    controller.abort();
    await expect(first).rejects.toBeInstanceOf(LoadAbortedError);
    expect(loaderSignal?.aborted).toBe(true);
    expect(await watch.load({ key: "k", tables: ["t"] }, async () => "fresh")).toBe("fresh");
    await watch.stop();
  });

  it("a load that hangs past loadTimeout fails every waiter, and the next caller loads afresh", async () => {
    const watch = await engine({ loadTimeout: 50 });
    const hang = () => new Promise<string>(() => {});
    const callers = [
      watch.load({ key: "k", tables: ["t"] }, hang),
      watch.load({ key: "k", tables: ["t"] }, hang),
    ];
    for (const c of callers) await expect(c).rejects.toBeInstanceOf(LoadTimeoutError);
    expect(await watch.load({ key: "k", tables: ["t"] }, async () => "ok")).toBe("ok");
    expect(watch.stats().loadTimeouts).toBe(1);
    await watch.stop();
  });
});

describe("engine: isolation (rule 6)", () => {
  class Money {
    constructor(readonly cents: bigint) {}
    toString() {
      return `${this.cents}c`;
    }
  }

  it("returns Date, BigInt, Buffer, Uint8Array, class instances and JSON intact and isolated", async () => {
    const watch = await engine();
    const original = () => ({
      at: new Date("2026-01-02T03:04:05.678Z"),
      big: 9007199254740993n,
      buf: Buffer.from([1, 2, 3]),
      bytes: new Uint8Array([4, 5]),
      money: new Money(1234n),
      json: { nested: [{ a: 1 }, null, "x"] },
      map: new Map([["k", { v: 1 }]]),
    });
    const first = await watch.load({ key: "v", tables: ["t"] }, async () => original());
    first.at.setFullYear(1999);
    first.buf[0] = 99;
    first.bytes[0] = 99;
    first.json.nested.push("mutated");
    first.map.get("k")!.v = 42;
    const second = await watch.load({ key: "v", tables: ["t"] }, async () => original());
    second.json.nested.pop();
    const third = await watch.load({ key: "v", tables: ["t"] }, async () => original());
    for (const hit of [second, third]) {
      expect(hit.at).toBeInstanceOf(Date);
      expect(hit.at.toISOString()).toBe("2026-01-02T03:04:05.678Z");
      expect(hit.big).toBe(9007199254740993n);
      expect(Buffer.isBuffer(hit.buf)).toBe(true);
      expect([...hit.buf]).toEqual([1, 2, 3]);
      expect(hit.bytes).toBeInstanceOf(Uint8Array);
      expect([...hit.bytes]).toEqual([4, 5]);
      expect(hit.money).toBeInstanceOf(Money);
      expect(hit.money.toString()).toBe("1234c");
      expect(hit.map.get("k")).toEqual({ v: 1 });
    }
    expect(third.json).toEqual({ nested: [{ a: 1 }, null, "x"] });
    expect(watch.stats().hits).toBe(2);
    await watch.stop();
  });
});

describe("cloneValue", () => {
  it("keeps a __proto__ field as data, null-prototype objects as such, and copies nested arrays", () => {
    const row = JSON.parse('{"__proto__": {"admin": true}, "list": [[1, {"a": 2}], []]}') as {
      list: [number, { a: number }][];
    };
    const copy = cloneValue(row);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, "__proto__")).toBe(true);
    expect((copy as unknown as Record<string, unknown>).admin).toBeUndefined();
    expect(copy).toEqual(row);
    copy.list[0]![1]!.a = 99;
    copy.list[1]!.push(0);
    expect(row.list).toEqual([[1, { a: 2 }], []]);

    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { nested: { x: 1 } });
    const bareCopy = cloneValue(bare);
    expect(Object.getPrototypeOf(bareCopy)).toBe(null);
    expect(bareCopy.nested).not.toBe(bare.nested);
    expect(bareCopy.nested).toEqual({ x: 1 });
  });

  it("does not copy inherited fields onto the copy", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = { injected: true };
    try {
      const copy = cloneValue({ own: { a: 1 } });
      expect(Object.hasOwn(copy, "polluted")).toBe(false);
      expect(Object.keys(copy)).toEqual(["own"]);
    } finally {
      delete proto.polluted;
    }
  });
});

describe("engine: bounds (rule 8)", () => {
  it("stays under maxBytes while 100k distinct keys are filled, and the tag index shrinks with the entries", async () => {
    const maxBytes = 2 * 1024 * 1024;
    const watch = await engine({ maxBytes, maxEntries: 1_000_000 });
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      await watch.load({ key: `user:${i}`, tables: [`t${i % 100}`] }, async () => ({
        id: i,
        name: `user ${i}`,
        email: `u${i}@example.com`,
      }));
      if (i % 1000 === 0) peak = Math.max(peak, watch.stats().bytes);
    }
    const stats = watch.stats();
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    expect(peak).toBeLessThanOrEqual(maxBytes);
    expect(stats.evictions).toBeGreaterThan(90_000);
    expect(stats.entries).toBe(100_000 - stats.evictions);
    watch.invalidateAll();
    expect(watch.stats()).toMatchObject({ entries: 0, bytes: 0 });
    await watch.stop();
  });

  it("counts at least the heap its entries take: Date-heavy rows flooded past maxBytes", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const settledHeap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    // Timestamps come back as Date objects, 112 bytes of heap each.
    const rows = (i: number) =>
      Array.from({ length: 10 }, (_, k) => ({
        id: i * 10 + k,
        created_at: new Date(1.7e12 + i),
        updated_at: new Date(1.7e12 + k),
        deleted_at: new Date(1.6e12 + i),
      }));
    const fill = async (watch: Awaited<ReturnType<typeof engine>>, keys: number) => {
      for (let i = 0; i < keys; i++)
        await watch.load({ key: `rows:${i}`, tables: ["t"] }, async () => rows(i));
    };
    // Compile and optimize the fill path first, so the heap measured below is the cache's.
    const warm = await engine({ maxBytes: 1024 * 1024, maxEntries: 1_000_000, ttl: 0 });
    await fill(warm, 3000);
    await warm.stop();

    const maxBytes = 8 * 1024 * 1024;
    const watch = await engine({ maxBytes, maxEntries: 1_000_000, ttl: 0 });
    const before = settledHeap();
    await fill(watch, 6000);
    const grown = settledHeap() - before;
    const stats = watch.stats();
    expect(stats.evictions).toBeGreaterThan(1000);
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    expect(grown).toBeLessThanOrEqual(stats.bytes);
    // An estimate, not a blanket overcount.
    expect(grown).toBeGreaterThan(stats.bytes * 0.8);
    await watch.stop();
  });

  it("does not cache a result larger than maxEntryBytes but still returns it", async () => {
    const watch = await engine({ maxEntryBytes: 10_000 });
    const big = "x".repeat(100_000);
    expect(await watch.load({ key: "big", tables: ["t"] }, async () => big)).toBe(big);
    expect(watch.stats()).toMatchObject({ entries: 0, fillsTooLarge: 1 });
    await watch.stop();
  });

  it("expires entries after their ttl", async () => {
    const watch = await engine({ ttl: 30 });
    let calls = 0;
    await watch.load({ key: "k", tables: ["t"] }, async () => ++calls);
    await new Promise((r) => setTimeout(r, 60));
    await watch.load({ key: "k", tables: ["t"] }, async () => ++calls);
    expect(calls).toBe(2);
    expect(watch.stats().expirations).toBe(1);
    await watch.stop();
  });
});

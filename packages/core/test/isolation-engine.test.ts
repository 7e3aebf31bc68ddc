import { describe, expect, it } from "vitest";
import { createCacheWatch } from "../src/index.js";

// Through the engine's public API only (`source: "none"` serves as soon as started): a result that
// shares objects is cached and served as a DAG, and every hit is still the caller's own copy.

async function engine(options: Parameters<typeof createCacheWatch>[0] = {}) {
  const watch = createCacheWatch({ source: "none", ...options });
  await watch.start();
  return watch;
}

describe("engine: shared references in a result", () => {
  it("2,000 rows -> one 25k-object value: cached, and each hit is an isolated DAG", async () => {
    const watch = await engine({ maxBytes: 256 * 1024 * 1024 });
    const shared = Array.from({ length: 25_000 }, (_, i) => ({ i }));
    const rows = Array.from({ length: 2000 }, (_, id) => ({ id, data: shared }));
    const load = () => watch.load({ key: "dag", tables: ["t"] }, async () => rows);
    expect(await load()).toBe(rows);
    expect(watch.stats()).toMatchObject({ entries: 1, fillsTooLarge: 0 });
    expect(watch.stats().bytes).toBeLessThan(4 * 1024 * 1024);
    const first = await load();
    const second = await load();
    expect(watch.stats().hits).toBe(2);
    for (const hit of [first, second]) {
      expect(hit !== rows).toBe(true);
      expect(hit[0]!.data !== shared).toBe(true);
      expect(hit[1999]!.data).toBe(hit[0]!.data);
      expect(hit[0]!.data[24_999]).toEqual({ i: 24_999 });
    }
    first[0]!.data[0]!.i = -1;
    expect(second[0]!.data[0]!.i).toBe(0);
    expect((await load())[0]!.data[0]!.i).toBe(0);
    expect(shared[0]!.i).toBe(0);
    await watch.stop();
  });

  it("a cyclic result is cached and reproduced", async () => {
    const watch = await engine();
    const node: Record<string, unknown> = { id: 1 };
    node.self = node;
    await watch.load({ key: "cycle", tables: ["t"] }, async () => node);
    const hit = (await watch.load({ key: "cycle", tables: ["t"] }, async () => ({}))) as typeof node;
    expect(watch.stats()).toMatchObject({ hits: 1, entries: 1 });
    expect(hit !== node).toBe(true);
    expect(hit.self).toBe(hit);
    await watch.stop();
  });
});

describe("engine: isolation modes", () => {
  const rows = () => [
    { id: 1, at: new Date(0), tags: ["a"], data: { n: 1n } },
    { id: 2, at: new Date(1), tags: ["b"], data: { n: 2n } },
  ];

  it('"freeze": every hit is the same deep-frozen value, and assigning to it throws', async () => {
    const watch = await engine({ isolation: "freeze" });
    const load = () => watch.load({ key: "frozen", tables: ["t"] }, async () => rows());
    await load();
    const first = await load();
    const second = await load();
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first[0]?.tags)).toBe(true);
    expect(first).toHaveLength(2);
    const row = first[0] as { id: number; tags: string[]; at: Date };
    expect(() => {
      row.id = 9;
    }).toThrow(TypeError);
    expect(() => row.tags.push("x")).toThrow(TypeError);
    expect(() => row.at.setTime(5)).toThrow(TypeError);
    expect(first).toEqual(rows());
    await watch.stop();
  });

  it('"freeze" with a Buffer in the result still copies on each hit (a Buffer cannot be frozen)', async () => {
    const watch = await engine({ isolation: "freeze" });
    const load = () =>
      watch.load({ key: "buf", tables: ["t"] }, async () => [{ id: 1, raw: Buffer.from("ab") }]);
    await load();
    const first = await load();
    const second = await load();
    expect(second).not.toBe(first);
    first[0]!.raw[0] = 0;
    expect(second[0]!.raw.toString()).toBe("ab");
    await watch.stop();
  });

  it('"copy" (default): hits are copies the caller may change', async () => {
    const watch = await engine();
    const load = () => watch.load({ key: "copied", tables: ["t"] }, async () => rows());
    await load();
    const first = await load();
    first[0]!.tags.push("mine");
    first[0]!.at.setTime(99);
    const second = await load();
    expect(second).toEqual(rows());
    await watch.stop();
  });

  it("a result far over maxEntryBytes is refused after copying about the budget, not all of it", async () => {
    const { copyCounters, resetCopyCounters } = await import("../src/store/copy-counters.js");
    const watch = await engine({ maxEntryBytes: 4 * 1024 * 1024, maxBytes: 64 * 1024 * 1024 });
    const big = Array.from({ length: 100_000 }, (_, i) => ({ id: i, text: "x".repeat(500) }));
    resetCopyCounters();
    const result = await watch.load({ key: "big", tables: ["t"] }, async () => big);
    expect(result).toBe(big);
    expect(watch.stats()).toMatchObject({ entries: 0, fillsTooLarge: 1 });
    // 4 MiB of 500-character rows is under 10,000 rows: the copy stopped there.
    expect(copyCounters.nodesVisited).toBeLessThan(10_000);
    await watch.stop();
  });

  it("refuses an unknown isolation mode with a typed error", () => {
    expect(() => createCacheWatch({ source: "none", isolation: "share" as never })).toThrow(/isolation/);
  });
});

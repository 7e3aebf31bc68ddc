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

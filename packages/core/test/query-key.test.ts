import { describe, expect, it } from "vitest";
import { queryKey } from "../src/adapter.js";
import { createCacheWatch } from "../src/index.js";

describe("queryKey", () => {
  it("keeps parameters of different types apart", () => {
    const values: unknown[] = [
      1,
      1n,
      "1",
      true,
      null,
      undefined,
      new Date(0),
      new Date(0).toISOString(),
      Buffer.from([1]),
      [1],
      { a: 1 },
      { $date: "x" },
      -0,
      0,
    ];
    const keys = values.map((v) => queryKey(["ns", "select $1"], [v]));
    expect(new Set(keys).size).toBe(values.length);
  });

  it("separates namespace parts and parameters", () => {
    expect(queryKey(["a", "b"], [])).not.toBe(queryKey(["ab"], []));
    expect(queryKey(["q"], ["a", "b"])).not.toBe(queryKey(["q"], ["a,b"]));
  });

  it("returns undefined for a parameter it cannot key faithfully, and the engine then bypasses", async () => {
    class Opaque {
      toPostgres() {
        return "x";
      }
    }
    const key = queryKey(["q"], [new Opaque()]);
    expect(key).toBeUndefined();
    const watch = createCacheWatch({ source: "none" });
    await watch.start();
    let calls = 0;
    await watch.load({ key, tables: ["t"] }, async () => ++calls);
    await watch.load({ key, tables: ["t"] }, async () => ++calls);
    expect(calls).toBe(2);
    expect(watch.stats().bypassed).toBe(2);
    await watch.stop();
  });
});

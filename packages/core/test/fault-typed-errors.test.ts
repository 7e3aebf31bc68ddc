import { describe, expect, it, onTestFinished } from "vitest";
import {
  cached,
  createCacheWatch,
  InvalidTableNameError,
  type PgCacheWatchError,
  stableKey,
  toTableRef,
  UnserializableArgumentError,
} from "../src/index.js";

/** An argument nested `depth` levels deep: [[[...]]]. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe("typed errors for bad input", () => {
  it.each([
    ["null", null],
    ["a number", 42],
    ["an empty object", {}],
    ["an object with a numeric table", { table: 7 }],
    ["an object with a numeric schema", { schema: 1, table: "t" }],
    ["an array", ["users"]],
  ])("toTableRef(%s) throws InvalidTableNameError", (_label, input) => {
    const call = () => toTableRef(input as never);
    expect(call).toThrow(InvalidTableNameError);
    expect(call).toThrow(/invalid table name/);
  });

  it("a load naming a non-string table rejects with InvalidTableNameError", async () => {
    const watch = createCacheWatch({ source: "none" });
    onTestFinished(() => watch.stop());
    await watch.start();
    await expect(watch.load({ key: "k", tables: [null as never] }, async () => 1)).rejects.toBeInstanceOf(
      InvalidTableNameError,
    );
    expect(() => watch.beginMutation([42 as never])).toThrow(InvalidTableNameError);
  });

  it("cached() rejects, never throws, on arguments it cannot key", async () => {
    const watch = createCacheWatch({ source: "none" });
    onTestFinished(() => watch.stop());
    await watch.start();
    const fn = cached(async (_arg: unknown) => "value", { watch, tables: ["t"] });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const arg of [() => 1, Symbol("s"), cyclic]) {
      let result: Promise<string> | undefined;
      expect(() => {
        result = fn(arg);
      }).not.toThrow();
      await expect(result).rejects.toBeInstanceOf(UnserializableArgumentError);
    }
  });

  it("a 20 000-deep argument gives a typed error, not a RangeError", async () => {
    const deep = nested(20_000);
    let thrown: unknown;
    try {
      stableKey([deep]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnserializableArgumentError);
    expect((thrown as PgCacheWatchError).code).toBe("UNSERIALIZABLE_ARGUMENT");
    expect((thrown as Error).message.length).toBeLessThan(300);

    const watch = createCacheWatch({ source: "none" });
    onTestFinished(() => watch.stop());
    await watch.start();
    const fn = cached(async (_arg: unknown) => "value", { watch, tables: ["t"] });
    await expect(fn(deep)).rejects.toBeInstanceOf(UnserializableArgumentError);
    // Reasonable nesting still works.
    await expect(fn(nested(100))).resolves.toBe("value");
  });

  it("0 and -0 are distinct keys", () => {
    expect(stableKey([0])).not.toBe(stableKey([-0]));
    expect(stableKey([{ a: -0 }])).not.toBe(stableKey([{ a: 0 }]));
    expect(stableKey([0])).toBe(stableKey([0]));
  });
});

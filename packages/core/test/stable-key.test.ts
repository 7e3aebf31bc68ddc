import { describe, expect, it } from "vitest";
import { stableKey } from "../src/adapter.js";
import { UnserializableArgumentError } from "../src/index.js";

describe("stableKey", () => {
  it("ignores object key order and keeps types apart", () => {
    expect(stableKey([{ a: 1, b: { c: 2, d: 3 } }])).toBe(stableKey([{ b: { d: 3, c: 2 }, a: 1 }]));
    const distinct = [
      [1],
      ["1"],
      [1n],
      [true],
      [null],
      [undefined],
      [[]],
      [{}],
      [new Date(0)],
      [Buffer.from("a")],
      [Number.NaN],
    ];
    expect(new Set(distinct.map((args) => stableKey(args))).size).toBe(distinct.length);
    expect(
      stableKey([
        new Map([
          ["b", 1],
          ["a", 2],
        ]),
      ]),
    ).toBe(
      stableKey([
        new Map([
          ["a", 2],
          ["b", 1],
        ]),
      ]),
    );
    expect(stableKey([new Set([2, 1])])).toBe(stableKey([new Set([1, 2])]));
  });

  it("never lets a plain object collide with a tagged value", () => {
    const date = new Date(0);
    const pairs: [unknown, unknown][] = [
      [date, { $date: date.toISOString() }],
      [1n, { $big: "1" }],
      [undefined, { $undef: 1 }],
      [Buffer.from("a"), { $bytes: "61" }],
      [Number.NaN, { $num: "NaN" }],
      [new Set([1]), { $set: [1] }],
      [new Map([[1, 2]]), { $map: [[1, 2]] }],
      [new Date(0), "#date:1970-01-01T00:00:00.000Z"],
    ];
    for (const [tagged, lookalike] of pairs) expect(stableKey([tagged])).not.toBe(stableKey([lookalike]));
  });

  it("uses toJSON for class instances that have one", () => {
    class Id {
      constructor(readonly v: string) {}
      toJSON() {
        return { id: this.v };
      }
    }
    expect(stableKey([new Id("x")])).toBe(stableKey([{ id: "x" }]));
  });

  it("refuses functions, symbols, cycles and opaque class instances with a typed error", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    class Opaque {}
    for (const bad of [() => 1, Symbol("s"), cyclic, new Opaque()]) {
      expect(() => stableKey([bad])).toThrow(UnserializableArgumentError);
    }
    try {
      stableKey([{ nested: { fn: () => 1 } }]);
    } catch (error) {
      expect((error as UnserializableArgumentError).code).toBe("UNSERIALIZABLE_ARGUMENT");
      expect((error as Error).message).toContain("args[0].nested.fn");
    }
  });
});

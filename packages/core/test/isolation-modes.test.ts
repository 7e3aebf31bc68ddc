import { describe, expect, expectTypeOf, it } from "vitest";
import { cloneAndMeasure, cloneValue, freezeAndMeasure } from "../src/adapter.js";
import type { DeepReadonly } from "../src/index.js";
import { FrozenDate } from "../src/store/frozen-builtins.js";
import {
  cachedShapeCount,
  closureCopierFor,
  type FieldKind,
  rowCopierFor,
} from "../src/store/shape-copier.js";

// Pure logic: the copiers behind isolation (rule 6). No database.

/** Prisma's Decimal in miniature: an immutable class instance, shared rather than copied. */
class Decimal {
  readonly #digits: string;
  constructor(digits: string) {
    this.#digits = digits;
  }
  toString(): string {
    return this.#digits;
  }
}

interface Row {
  id: number;
  name: string;
  price: string;
  big: bigint;
  created_at: Date | null;
  tags: string[];
  attributes: { color: string; size: number; nested?: { deep: number[] } } | string;
  amount: Decimal;
  blob: Buffer;
}

/** Rows as node-postgres builds them: one shape, a Date, a text[], jsonb (an object or, once, a string). */
function pgRows(count: number): Row[] {
  return Array.from({ length: count }, (_, i) => ({
    id: i,
    name: `item ${i}`,
    price: (i * 1.25).toFixed(2),
    big: 2n ** 70n + BigInt(i),
    created_at: i % 3 === 2 ? null : new Date(1.7e12 + i),
    tags: [`t${i % 3}`, `t${i % 5}`],
    attributes:
      i === 4 ? "plain jsonb string" : { color: `c${i}`, size: i % 5, nested: { deep: [i, i + 1] } },
    amount: new Decimal(`${i}.50`),
    blob: Buffer.from([i, i + 1, i + 2]),
  }));
}

type Copier = (value: Row[]) => Row[];
const copiers: [string, Copier][] = [
  ["cloneValue of a stored copy (shape copiers)", (rows) => cloneValue(cloneAndMeasure(rows).copy)],
  ["cloneValue of an unknown value (identity map)", (rows) => cloneValue(rows)],
  ["cloneAndMeasure", (rows) => cloneAndMeasure(rows).copy],
];

describe("copy mode: a copy cannot reach the value it came from", () => {
  for (const [name, copy] of copiers) {
    it(`${name}: deep mutation of a copy, of nested jsonb and of a Date stays in the copy`, () => {
      const original = pgRows(6);
      const snapshot = cloneAndMeasure(original).copy;
      const stored = cloneAndMeasure(original).copy;
      const copies = [copy(original), cloneValue(stored)];
      for (const rows of copies) {
        const row = rows[0]!;
        row.name = "changed";
        row.tags.push("added");
        (row.attributes as { nested: { deep: number[] } }).nested.deep[0] = -1;
        (row.attributes as { color: string }).color = "changed";
        row.created_at!.setTime(0);
        row.blob[0] = 255;
        rows.pop();
      }
      expect(original).toEqual(snapshot);
      expect(stored).toEqual(snapshot);
      expect(cloneValue(stored)).toEqual(snapshot);
      expect(original[0]!.created_at!.getTime()).toBe(1.7e12);
      expect(original[0]!.blob[0]).toBe(0);
    });
  }

  it("Map, Set, typed arrays, DataView and ArrayBuffer are copied; Decimal and bigint are kept", () => {
    const value = {
      map: new Map<string, { n: number }>([["a", { n: 1 }]]),
      set: new Set([{ s: 1 }]),
      floats: new Float64Array([1.5, 2.5]),
      view: new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2),
      buffer: new Uint8Array([9, 8]).buffer,
      amount: new Decimal("1.10"),
      big: -(2n ** 65n),
    };
    for (const copy of [cloneValue(value), cloneValue(cloneAndMeasure(value).copy)]) {
      expect(copy).toEqual(value);
      expect(copy.map).not.toBe(value.map);
      expect(copy.map.get("a")).not.toBe(value.map.get("a"));
      expect([...copy.set][0]).not.toBe([...value.set][0]);
      expect(copy.floats).toBeInstanceOf(Float64Array);
      expect(copy.view.byteLength).toBe(2);
      expect(copy.view.getUint8(0)).toBe(2);
      copy.floats[0] = 0;
      new Uint8Array(copy.buffer)[0] = 0;
      copy.map.get("a")!.n = 2;
      expect(value.floats[0]).toBe(1.5);
      expect(new Uint8Array(value.buffer)[0]).toBe(9);
      expect(value.map.get("a")!.n).toBe(1);
      expect(copy.amount).toBe(value.amount);
      expect(copy.big).toBe(-(2n ** 65n));
    }
  });
});

describe("values stay intact in both modes", () => {
  it("Date, bigint, Buffer, a Decimal-like class and jsonb come back equal and of their own types", () => {
    const original = pgRows(6);
    const frozen = freezeAndMeasure(original);
    const results = {
      copy: cloneValue(cloneAndMeasure(original).copy),
      unknown: cloneValue(original),
      frozen: frozen!.value,
      frozenHit: cloneValue(frozen!.value),
    };
    for (const [mode, rows] of Object.entries(results)) {
      expect(rows, mode).toHaveLength(6);
      rows.forEach((row, i) => {
        const source = original[i]!;
        expect(Object.keys(row), mode).toEqual(Object.keys(source));
        expect(row.created_at === null ? null : row.created_at.getTime(), mode).toBe(
          source.created_at === null ? null : source.created_at.getTime(),
        );
        if (row.created_at !== null) expect(row.created_at, mode).toBeInstanceOf(Date);
        expect(row.big, mode).toBe(source.big);
        expect(Buffer.isBuffer(row.blob), mode).toBe(true);
        expect([...row.blob], mode).toEqual([...source.blob]);
        expect(row.amount, mode).toBe(source.amount);
        expect(row.amount.toString(), mode).toBe(`${i}.50`);
        expect(row.attributes, mode).toEqual(source.attributes);
        expect(JSON.stringify(toJsonSafe(row as Row)), mode).toBe(JSON.stringify(toJsonSafe(source)));
      });
    }
  });

  it("a __proto__ field stays a field, null-prototype objects stay so, in both modes", () => {
    const rows = [
      JSON.parse('{"id": 1, "__proto__": {"admin": true}, "j": {"__proto__": [1]}}'),
      JSON.parse('{"id": 2, "__proto__": {"admin": false}, "j": {"__proto__": [2]}}'),
    ] as Record<string, unknown>[];
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { x: { y: 1 } });
    const value = { rows, bare };
    const frozen = freezeAndMeasure(value)!.value;
    for (const copy of [
      cloneValue(cloneAndMeasure(value).copy),
      cloneValue(value),
      frozen,
      cloneValue(frozen),
    ]) {
      for (const [i, row] of copy.rows.entries()) {
        expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
        expect(Object.hasOwn(row, "__proto__")).toBe(true);
        expect((row as { admin?: unknown }).admin).toBeUndefined();
        expect(Object.getOwnPropertyDescriptor(row, "__proto__")?.value).toEqual({ admin: i === 0 });
        const j = row.j as object;
        expect(Object.getPrototypeOf(j)).toBe(Object.prototype);
        expect(Object.getOwnPropertyDescriptor(j, "__proto__")?.value).toEqual([i + 1]);
      }
      expect(Object.getPrototypeOf(copy.bare)).toBe(null);
      expect(copy.bare.x).toEqual({ y: 1 });
      expect(copy.bare.x).not.toBe(bare.x);
    }
  });
});

/** What JSON.stringify makes of a row once bigint and Buffer (not JSON) are set aside. */
function toJsonSafe(row: Row): unknown {
  const { big: _big, blob: _blob, ...rest } = row;
  return rest;
}

describe("freeze mode: a frozen value cannot be changed", () => {
  it("assignments throw a TypeError in strict mode, nested values too; Date, Map and Set mutators throw", () => {
    const value = {
      rows: [{ id: 1, at: new Date(5), tags: ["a"], json: { deep: { n: 1 } } }],
      map: new Map([["k", { v: 1 }]]),
      set: new Set([1]),
    };
    const result = freezeAndMeasure(value);
    expect(result?.shareable).toBe(true);
    const frozen = result!.value as unknown as typeof value;
    expect(Object.isFrozen(frozen)).toBe(true);
    expect(Object.isFrozen(frozen.rows)).toBe(true);
    expect(Object.isFrozen(frozen.rows[0])).toBe(true);
    expect(Object.isFrozen(frozen.rows[0]!.json.deep)).toBe(true);
    expect(() => {
      frozen.rows[0]!.id = 2;
    }).toThrow(TypeError);
    expect(() => {
      frozen.rows[0]!.json.deep.n = 2;
    }).toThrow(TypeError);
    expect(() => frozen.rows.push({ ...frozen.rows[0]! })).toThrow(TypeError);
    expect(() => frozen.rows[0]!.tags.push("b")).toThrow(TypeError);
    expect(() => {
      delete (frozen as Partial<typeof value>).map;
    }).toThrow(TypeError);
    expect(() => frozen.rows[0]!.at.setTime(0)).toThrow(TypeError);
    expect(() => frozen.rows[0]!.at.setFullYear(2000)).toThrow(TypeError);
    expect(() => frozen.map.set("k2", { v: 2 })).toThrow(TypeError);
    expect(() => frozen.map.delete("k")).toThrow(TypeError);
    expect(() => frozen.set.add(2)).toThrow(TypeError);
    expect(() => frozen.set.clear()).toThrow(TypeError);
    expect(() => {
      frozen.map.get("k")!.v = 2;
    }).toThrow(TypeError);
    // Nothing changed, and the original was never frozen.
    expect(frozen.rows[0]!.at.getTime()).toBe(5);
    expect(frozen.rows[0]!.at).toBeInstanceOf(Date);
    expect(frozen.rows[0]!.at).toBeInstanceOf(FrozenDate);
    expect(frozen.map.size).toBe(1);
    expect(frozen).toStrictEqual(value);
    expect(Object.isFrozen(value.rows[0])).toBe(false);
    value.rows[0]!.at.setTime(7);
    expect(frozen.rows[0]!.at.getTime()).toBe(5);
  });

  it("a Map, Set or Date at the top is frozen too", () => {
    const map = freezeAndMeasure(new Map([["k", { v: 1 }]]))!.value;
    expect(() => (map as Map<string, { v: number }>).set("x", { v: 2 })).toThrow(TypeError);
    expect(() => {
      (map.get("k") as { v: number }).v = 2;
    }).toThrow(TypeError);
    const set = freezeAndMeasure(new Set([[1]]))!.value;
    expect(() => (set as Set<number[]>).add([2])).toThrow(TypeError);
    expect(() => ([...set][0] as number[]).push(2)).toThrow(TypeError);
    const date = freezeAndMeasure(new Date(3))!.value;
    expect(() => date.setTime(4)).toThrow(TypeError);
    expect(date.getTime()).toBe(3);
    expect(cloneValue(map)).toStrictEqual(new Map([["k", { v: 1 }]]));
  });

  it("a copy of a frozen value is an ordinary, changeable value", () => {
    const frozen = freezeAndMeasure([{ at: new Date(1), json: { a: [1] } }])!.value;
    const copy = cloneValue(frozen) as { at: Date; json: { a: number[] } }[];
    copy[0]!.at.setTime(2);
    copy[0]!.json.a.push(2);
    expect(Object.isFrozen(copy[0])).toBe(false);
    expect(copy[0]!.at).not.toBeInstanceOf(FrozenDate);
    expect(frozen[0]!.at.getTime()).toBe(1);
    expect(frozen[0]!.json.a).toEqual([1]);
  });

  it("a result holding binary data is not shareable: each hit copies it", () => {
    const original = pgRows(3);
    const result = freezeAndMeasure(original)!;
    expect(result.shareable).toBe(false);
    const hit = (result.shareable ? result.value : cloneValue(result.value)) as Row[];
    hit[0]!.blob[0] = 200;
    const next = cloneValue(result.value) as Row[];
    expect(next[0]!.blob[0]).toBe(0);
    expect(original[0]!.blob[0]).toBe(0);
  });

  it("a class instance is shared, not frozen (it may keep private state)", () => {
    const amount = new Decimal("3.00");
    const frozen = freezeAndMeasure({ amount })!.value;
    expect(frozen.amount).toBe(amount);
    expect(Object.isFrozen(amount)).toBe(false);
  });
});

describe("per-shape copiers", () => {
  it("copy rows whose fields change kind between rows (Date or null, jsonb object or string or array)", () => {
    const rows = [
      { a: 1, at: new Date(1), j: { x: 1 }, l: [1, 2], m: null as unknown },
      { a: "s", at: null, j: "text", l: null, m: { deep: [{ x: 1 }] } },
      { a: null, at: new Date(3), j: [1, { y: 2 }], l: [], m: new Date(4) },
    ];
    const stored = cloneAndMeasure(rows).copy;
    const copy = cloneValue(stored);
    expect(copy).toEqual(rows);
    expect(copy[0]!.at).not.toBe(stored[0]!.at);
    expect(copy[2]!.j).not.toBe(stored[2]!.j);
    expect((copy[2]!.j as unknown[])[1]).not.toBe((stored[2]!.j as unknown[])[1]);
    expect(copy[1]!.m).not.toBe(stored[1]!.m);
    expect(copy[2]!.m).toBeInstanceOf(Date);
    expect(copy[2]!.m).not.toBe(stored[2]!.m);
  });

  it("nested relations (an ORM's include): rows of rows and one-shape objects, in both modes", () => {
    const users = Array.from({ length: 4 }, (_, id) => ({
      id,
      profile: id === 2 ? null : { bio: `b${id}`, since: new Date(id), meta: { n: id } },
      posts: Array.from({ length: id }, (_, p) => ({
        id: p,
        at: new Date(p),
        tags: [`t${p}`],
        json: JSON.parse('{"__proto__": 1}'),
      })),
    }));
    const stored = cloneAndMeasure(users).copy;
    const frozen = freezeAndMeasure(users)!;
    expect(frozen.shareable).toBe(true);
    for (const copy of [cloneValue(stored), frozen.value, cloneValue(frozen.value)]) {
      expect(copy).toStrictEqual(users);
      expect(copy[3]!.posts[2]).not.toBe(users[3]!.posts[2]);
      expect(copy[3]!.posts[2]!.at).not.toBe(users[3]!.posts[2]!.at);
      expect(copy[1]!.profile!.meta).not.toBe(users[1]!.profile!.meta);
      expect(Object.getOwnPropertyDescriptor(copy[3]!.posts[1]!.json, "__proto__")?.value).toBe(1);
    }
    const value = frozen.value;
    expect(Object.isFrozen(value[3]!.posts[2]!.tags)).toBe(true);
    expect(Object.isFrozen(value[1]!.profile!.meta)).toBe(true);
    expect(() => value[3]!.posts[2]!.at.setTime(0)).toThrow(TypeError);
    expect(() => value[1]!.profile!.since.setTime(0)).toThrow(TypeError);
    const copy = cloneValue(frozen.value) as typeof users;
    copy[3]!.posts[2]!.at.setTime(0);
    copy[3]!.posts.push({ ...copy[3]!.posts[0]! });
    expect(users[3]!.posts[2]!.at.getTime()).toBe(2);
    expect(value[3]!.posts).toHaveLength(3);
  });

  it("fall back when shapes differ between rows (other keys, other order, extra key, class instance)", () => {
    const cases: unknown[][] = [
      [
        { a: 1, b: { x: 1 } },
        { b: { x: 2 }, a: 2 },
      ],
      [
        { a: 1, b: [1] },
        { a: 2, b: [2], c: 3 },
      ],
      [{ a: 1 }, { a: 2, b: 3 }, { a: 3 }],
      [{ a: { x: 1 } }, new Decimal("1"), [1, { y: 1 }]],
      [{ a: 1 }, null, 3, { a: 2 }],
    ];
    for (const rows of cases) {
      const stored = cloneAndMeasure(rows).copy;
      const copy = cloneValue(stored);
      expect(copy).toEqual(rows);
      copy.forEach((row, i) => {
        if (typeof row === "object" && row !== null && !(row instanceof Decimal)) {
          expect(row).not.toBe(stored[i]);
          expect(Object.keys(row)).toEqual(Object.keys(rows[i] as object));
        }
      });
    }
  });

  it("keys are spliced into generated code safely", () => {
    const hostile = [
      '"]; throw new Error("injected"); //',
      "a\\",
      "\u2028",
      "</script>",
      "constructor",
      "0",
      "",
      "__proto__",
    ];
    const make = (i: number) => Object.fromEntries(hostile.map((key, k) => [key, k % 2 ? { i } : i]));
    const rows = [make(1), make(2)];
    const copy = cloneValue(cloneAndMeasure(rows).copy);
    expect(copy).toEqual(rows);
    expect(Object.getPrototypeOf(copy[0])).toBe(Object.prototype);
    expect(Object.keys(copy[0]!)).toEqual(Object.keys(rows[0]!));
  });

  it("the generated and the closure copier agree", () => {
    const keys = ["id", "at", "tags", "json", "other", "__proto__"];
    const kinds: FieldKind[] = ["p", "d", "a", "f", "g", "p"];
    const row = JSON.parse(
      '{"id": 1, "at": null, "tags": ["x"], "json": {"k": 1}, "other": {"n": [1]}, "__proto__": 5}',
    );
    row.at = new Date(9);
    for (const copier of [rowCopierFor(keys, kinds)!, closureCopierFor(keys, kinds)]) {
      const [copy] = copier.rows([row]);
      expect(copy).toEqual(row);
      expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value).toBe(5);
      expect(copy!.at).not.toBe(row.at);
      expect(copy!.tags).not.toBe(row.tags);
      expect(copy!.json).not.toBe(row.json);
      expect((copy!.other as { n: number[] }).n).not.toBe(row.other.n);
      const frozen = copier.rowsFrozenBelow([row]);
      expect(Object.isFrozen(frozen)).toBe(false);
      expect(Object.isFrozen(frozen[0])).toBe(true);
      expect(Object.isFrozen((frozen[0]!.other as { n: number[] }).n)).toBe(true);
      expect(frozen[0]!.at).toBeInstanceOf(FrozenDate);
      expect(frozen).toStrictEqual([row]);
    }
  });

  it("does not copy inherited fields of a polluted prototype", () => {
    const proto = Object.prototype as Record<string, unknown>;
    const rows = [{ own: { a: 1 } }, { own: { a: 2 } }];
    const stored = cloneAndMeasure(rows).copy;
    proto.polluted = { injected: true };
    try {
      for (const copy of [cloneValue(stored), cloneValue(rows), cloneAndMeasure(rows).copy]) {
        expect(Object.hasOwn(copy[0]!, "polluted")).toBe(false);
        expect(Object.keys(copy[1]!)).toEqual(["own"]);
      }
    } finally {
      delete proto.polluted;
    }
  });

  it("keeps at most a bounded number of shape copiers", () => {
    for (let i = 0; i < 1000; i++) {
      const rows = [
        { [`key${i}`]: i, b: { i } },
        { [`key${i}`]: i + 1, b: { i } },
      ];
      expect(cloneValue(cloneAndMeasure(rows).copy)).toEqual(rows);
    }
    expect(cachedShapeCount()).toBeLessThanOrEqual(256);
  });
});

describe("DeepReadonly", () => {
  it("makes rows, arrays, Map and Set read-only and keeps Date, Buffer, bigint and class instances", () => {
    interface TypedRow {
      id: number;
      at: Date;
      blob: Buffer;
      big: bigint;
      amount: Decimal;
      tags: string[];
      json: { nested: { n: number }[] };
      map: Map<string, { v: number }>;
      set: Set<number>;
    }
    type Frozen = DeepReadonly<TypedRow[]>;
    expectTypeOf<Frozen>().toEqualTypeOf<readonly DeepReadonly<TypedRow>[]>();
    expectTypeOf<Frozen[number]["at"]>().toEqualTypeOf<Date>();
    expectTypeOf<Frozen[number]["blob"]>().toEqualTypeOf<Buffer>();
    expectTypeOf<Frozen[number]["big"]>().toEqualTypeOf<bigint>();
    expectTypeOf<Frozen[number]["amount"]>().toEqualTypeOf<Decimal>();
    expectTypeOf<Frozen[number]["tags"]>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<Frozen[number]["json"]["nested"][number]>().toEqualTypeOf<{ readonly n: number }>();
    expectTypeOf<Frozen[number]["map"]>().toEqualTypeOf<ReadonlyMap<string, { readonly v: number }>>();
    expectTypeOf<Frozen[number]["set"]>().toEqualTypeOf<ReadonlySet<number>>();
    const frozen = freezeAndMeasure([{ id: 1, tags: ["a"] }])!.value;
    // @ts-expect-error a frozen row's fields are readonly
    expect(() => (frozen[0]!.id = 2)).toThrow(TypeError);
    // @ts-expect-error a frozen array has no push
    expect(() => frozen[0]!.tags.push("b")).toThrow(TypeError);
  });
});

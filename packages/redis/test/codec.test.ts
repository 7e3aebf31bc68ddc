import { describe, expect, it } from "vitest";
import { CODEC_VERSION, UndecodableValueError, UnencodableValueError, ValueCodec } from "../src/index.js";

/** A Decimal-like class, as Prisma, decimal.js and big.js have. */
class Decimal {
  constructor(readonly text: string) {}
  toString() {
    return this.text;
  }
  toJSON() {
    return this.text;
  }
}

const codec = new ValueCodec().register("Decimal", Decimal);
const roundTrip = (value: unknown) => codec.decode(codec.encode(value));

describe("value codec", () => {
  it("starts every value with its version byte", () => {
    expect(codec.encode({ a: 1 })[0]).toBe(CODEC_VERSION);
  });

  it("carries what JSON loses, nested, intact", () => {
    const value = {
      at: new Date("2026-01-02T03:04:05.678Z"),
      invalidDate: new Date(Number.NaN),
      big: 12345678901234567890n,
      bytes: Buffer.from([0, 1, 2, 255]),
      raw: new Uint8Array([9, 8, 7]),
      price: new Decimal("12.3400"),
      json: { nested: [1, "two", null, true, { deep: [new Date(0)] }] },
      missing: undefined,
      numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1.5],
      tilde: { "~": "d", v: 1 },
      ["__proto__"]: { polluted: true },
    };
    const back = roundTrip(value) as typeof value;
    expect(back.at).toBeInstanceOf(Date);
    expect(back.at.toISOString()).toBe("2026-01-02T03:04:05.678Z");
    expect(Number.isNaN(back.invalidDate.getTime())).toBe(true);
    expect(back.big).toBe(12345678901234567890n);
    expect(Buffer.isBuffer(back.bytes)).toBe(true);
    expect([...back.bytes]).toEqual([0, 1, 2, 255]);
    expect(back.raw).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(back.raw)).toBe(false);
    expect([...back.raw]).toEqual([9, 8, 7]);
    expect(back.price).toBeInstanceOf(Decimal);
    expect(back.price.toString()).toBe("12.3400");
    expect(back.json).toEqual(value.json);
    expect((back.json.nested[4] as { deep: Date[] }).deep[0]).toBeInstanceOf(Date);
    expect("missing" in back).toBe(true);
    expect(back.missing).toBeUndefined();
    expect(Object.is(back.numbers[3], -0)).toBe(true);
    expect(back.numbers.slice(0, 3)).toEqual([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(back.tilde).toEqual({ "~": "d", v: 1 });
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toEqual({ polluted: true });
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it("refuses what it cannot carry intact, rather than store it changed", () => {
    expect(() => codec.encode({ f: () => 1 })).toThrow(UnencodableValueError);
    expect(() => codec.encode(new Map())).toThrow(UnencodableValueError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => codec.encode(cycle)).toThrow(UnencodableValueError);
    // A value seen twice is not a cycle.
    const shared = { x: 1 };
    expect(roundTrip([shared, shared])).toEqual([{ x: 1 }, { x: 1 }]);
  });

  it("refuses bytes of another version or an unknown class", () => {
    const bytes = codec.encode({ a: 1 });
    bytes[0] = CODEC_VERSION + 1;
    expect(() => codec.decode(bytes)).toThrow(UndecodableValueError);
    expect(() => new ValueCodec().decode(codec.encode(new Decimal("1")))).toThrow(UndecodableValueError);
  });
});

import { describe, expect, it } from "vitest";
import { DEFAULT_ENCODING, queryKey, type ValueEncoder } from "../src/adapter.js";

class Money {
  constructor(readonly cents: bigint) {}
}

/** An adapter's values (as Prisma's Decimal and null sentinels are for @pgcachewatch/prisma). */
const encodeMoney: ValueEncoder = (value) =>
  value instanceof Money ? `Money(${value.cents})` : DEFAULT_ENCODING;

describe("queryKey with an adapter's value encoder", () => {
  it("keys values the default encoding refuses, nested anywhere", () => {
    expect(queryKey(["q"], [new Money(1n)])).toBeUndefined();
    const key = queryKey(["q"], [{ where: { price: [new Money(1n)] } }], encodeMoney);
    expect(key).toBeDefined();
    expect(key).toBe(queryKey(["q"], [{ where: { price: [new Money(1n)] } }], encodeMoney));
    expect(key).not.toBe(queryKey(["q"], [{ where: { price: [new Money(2n)] } }], encodeMoney));
  });

  it("never equals a default encoding, and DEFAULT_ENCODING keeps the default for everything else", () => {
    const spoof: ValueEncoder = (value) => (value instanceof Money ? '"x"' : DEFAULT_ENCODING);
    expect(queryKey(["q"], [new Money(1n)], spoof)).not.toBe(queryKey(["q"], ["x"]));
    const values = [1, "1", null, new Date(0), Buffer.from([1]), { a: [1] }];
    for (const value of values) {
      expect(queryKey(["q"], [value], encodeMoney)).toBe(queryKey(["q"], [value]));
    }
  });

  it("an encoder returning undefined refuses the value: the query runs uncached", () => {
    const refuse: ValueEncoder = () => undefined;
    expect(queryKey(["q"], [{ a: 1 }], refuse)).toBeUndefined();
    expect(queryKey(["q"], [1], refuse)).toBeDefined();
  });
});

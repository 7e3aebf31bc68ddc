import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Prisma } from "./generated/client/client.js";
import { openPrismaFixture, type PrismaFixture, statsDelta } from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_values");
let fx: PrismaFixture;

beforeAll(async () => {
  fx = await openPrismaFixture(db);
});
beforeEach(async () => {
  await fx.settle();
});
afterAll(async () => {
  await fx?.close();
});

const read = () => fx.prisma.measurement.findUniqueOrThrow({ where: { id: 1 } });

describe("values come back intact and isolated from the cache", () => {
  it("Decimal, BigInt, Bytes, DateTime and Json survive a hit", async () => {
    const miss = await read();
    const hit = await statsDelta(fx.watch, read);
    expect(hit.hits).toBe(1);
    const value = hit.value;
    expect(Prisma.Decimal.isDecimal(value.price)).toBe(true);
    expect(value.price.toFixed(6)).toBe("12.345678");
    expect(value.big).toBe(9007199254740993n);
    expect(value.blob).toBeInstanceOf(Uint8Array);
    expect([...value.blob]).toEqual([0x00, 0xff, 0x10]);
    expect(value.takenAt).toBeInstanceOf(Date);
    expect(value.takenAt.toISOString()).toBe("2024-02-29T12:34:56.789Z");
    expect(value.data).toEqual({ a: [1, { b: null }] });
    expect(value).toEqual(miss);
  });

  it("a caller mutating its result cannot change what the next caller gets", async () => {
    await read();
    const first = await read();
    first.takenAt.setFullYear(1999);
    first.blob[0] = 0x7f;
    (first.data as { a: unknown[] }).a.push("mutated");
    first.big = 0n;
    const second = await statsDelta(fx.watch, read);
    expect(second.hits).toBe(1);
    expect(second.value.takenAt.toISOString()).toBe("2024-02-29T12:34:56.789Z");
    expect([...second.value.blob]).toEqual([0x00, 0xff, 0x10]);
    expect(second.value.data).toEqual({ a: [1, { b: null }] });
    expect(second.value.big).toBe(9007199254740993n);
  });

  it("Decimal, BigInt, Date and Bytes arguments key distinct entries", async () => {
    const byPrice = (price: Prisma.Decimal) =>
      fx.prisma.measurement.count({ where: { price: { gte: price } } });
    expect(await byPrice(new Prisma.Decimal("12"))).toBe(1);
    expect(await byPrice(new Prisma.Decimal("13"))).toBe(0);
    const byBig = (big: bigint) => fx.prisma.measurement.count({ where: { big: { gte: big } } });
    expect(await byBig(1n)).toBe(1);
    expect(await byBig(9007199254740994n)).toBe(0);
    const byDate = (at: Date) => fx.prisma.measurement.count({ where: { takenAt: { lt: at } } });
    expect(await byDate(new Date("2025-01-01T00:00:00Z"))).toBe(1);
    expect(await byDate(new Date("2020-01-01T00:00:00Z"))).toBe(0);
    const byBytes = (blob: Uint8Array<ArrayBuffer>) =>
      fx.prisma.measurement.count({ where: { blob: { equals: blob } } });
    expect(await byBytes(Uint8Array.from([0x00, 0xff, 0x10]))).toBe(1);
    expect(await byBytes(Uint8Array.from([0x01]))).toBe(0);
    const byJson = (value: Prisma.InputJsonValue) =>
      fx.prisma.measurement.count({ where: { data: { equals: value } } });
    expect(await byJson({ a: [1, { b: null }] })).toBe(1);
    expect(await byJson({ a: [2] })).toBe(0);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openPrismaFixture, type PrismaFixture } from "./support/prisma-fixture.js";

// Isolation "freeze": Prisma's client writes into every result it returns (list elements, included
// relations), so a hit must hand it a writable spine while the shared value stays frozen.

const db = useTestDatabase("prisma_freeze");
let fx: PrismaFixture;

beforeAll(async () => {
  fx = await openPrismaFixture(db, {}, { isolation: "freeze" });
});
beforeEach(async () => {
  await fx.settle();
});
afterAll(async () => {
  await fx?.close();
});

describe("Prisma in freeze mode", () => {
  it("findMany: a hit returns the rows, frozen, and a caller's change to its list reaches nobody", async () => {
    const read = () => fx.prisma.user.findMany({ orderBy: { id: "asc" } });
    const hits = fx.watch.stats().hits;
    const first = await read();
    const second = await read();
    expect(fx.watch.stats().hits).toBe(hits + 1);
    expect(second).toEqual(first);
    expect(second.length).toBeGreaterThan(1);
    const row = second[0] as Record<string, unknown>;
    expect(Object.isFrozen(row)).toBe(true);
    expect(() => {
      row.id = 999;
    }).toThrow(TypeError);
    // The list is the caller's own: emptying it changes no other caller's result.
    second.length = 0;
    expect(await read()).toEqual(first);
  });

  it("findUnique including a relation, and findMany with nested includes (join strategy): hits work", async () => {
    const unique = () =>
      fx.prisma.user.findUnique({ where: { id: 1 }, include: { posts: { orderBy: { id: "asc" } } } });
    const nested = () =>
      fx.prisma.post.findMany({
        relationLoadStrategy: "join",
        where: { id: { in: [1, 2, 3] } },
        include: { tags: { orderBy: { id: "asc" } }, author: { include: { profile: true } } },
        orderBy: { id: "asc" },
      });
    const hits = fx.watch.stats().hits;
    const user = await unique();
    const posts = await nested();
    const userHit = await unique();
    const postsHit = await nested();
    expect(fx.watch.stats().hits).toBe(hits + 2);
    expect(userHit).toEqual(user);
    expect(postsHit).toEqual(posts);
    expect(userHit?.posts.length).toBeGreaterThan(0);
    // The relation rows themselves stay the shared frozen ones.
    expect(Object.isFrozen(userHit?.posts[0])).toBe(true);
    expect(postsHit[0]?.tags.length).toBeGreaterThan(0);
    expect(Object.isFrozen(postsHit[0]?.tags[0])).toBe(true);
  });
});

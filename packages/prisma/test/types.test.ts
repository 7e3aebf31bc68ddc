/**
 * Compile-time contract of the extended client (checked by `pnpm typecheck`; the lines marked
 * @ts-expect-error fail the typecheck if they ever compile). Nothing here touches a database.
 */
import type { CacheWatch } from "@pgcachewatch/core";
import { describe, expectTypeOf, it } from "vitest";
import type { Prisma, PrismaClient } from "./generated/client/client.js";
import type { ExtendedClient } from "./support/prisma-fixture.js";

// Typed handles only: the functions below are type-checked, never called.
declare const prisma: ExtendedClient;
declare const base: PrismaClient;
declare const sql: Prisma.Sql;

describe("the typed per-call `cache` option", () => {
  it("is accepted by every cached operation and keeps Prisma's result types", () => {
    const findMany = () =>
      prisma.user.findMany({ select: { email: true }, cache: { ttl: 1000, tags: ["users"] } });
    expectTypeOf<Awaited<ReturnType<typeof findMany>>>().toEqualTypeOf<{ email: string }[]>();

    const findUnique = () =>
      prisma.user.findUnique({ where: { id: 1 }, include: { posts: true }, cache: false });
    type FoundUser = Awaited<ReturnType<typeof findUnique>>;
    expectTypeOf<NonNullable<FoundUser>["posts"][number]["title"]>().toEqualTypeOf<string>();
    expectTypeOf<FoundUser>().toMatchTypeOf<object | null>();

    const findUniqueOrThrow = () => prisma.post.findUniqueOrThrow({ where: { id: 1 }, cache: { ttl: 5 } });
    expectTypeOf<Awaited<ReturnType<typeof findUniqueOrThrow>>["authorId"]>().toEqualTypeOf<number>();

    const findFirst = () => prisma.tag.findFirst({ cache: {} });
    expectTypeOf<Awaited<ReturnType<typeof findFirst>>>().toEqualTypeOf<{
      id: number;
      name: string;
    } | null>();

    const findFirstOrThrow = () => prisma.profile.findFirstOrThrow({ cache: false });
    expectTypeOf<Awaited<ReturnType<typeof findFirstOrThrow>>["bio"]>().toEqualTypeOf<string>();

    const count = () => prisma.post.count({ where: { published: true }, cache: { ttl: 0 } });
    expectTypeOf<Awaited<ReturnType<typeof count>>>().toEqualTypeOf<number>();

    const aggregate = () => prisma.measurement.aggregate({ _sum: { big: true }, cache: false });
    expectTypeOf<Awaited<ReturnType<typeof aggregate>>["_sum"]["big"]>().toEqualTypeOf<bigint | null>();

    const groupBy = () =>
      prisma.post.groupBy({ by: ["authorId"], _count: { _all: true }, cache: { ttl: 1 } });
    expectTypeOf<Awaited<ReturnType<typeof groupBy>>[number]["authorId"]>().toEqualTypeOf<number>();

    // Without the option the methods behave as before.
    const plain = () => prisma.user.findMany();
    expectTypeOf<Awaited<ReturnType<typeof plain>>>().toEqualTypeOf<
      Awaited<ReturnType<typeof base.user.findMany>>
    >();

    // Inside an interactive transaction the option type-checks too (and the read bypasses the cache).
    const inTransaction = () => prisma.$transaction((tx) => tx.user.count({ cache: false }));
    expectTypeOf<Awaited<ReturnType<typeof inTransaction>>>().toEqualTypeOf<number>();
  });

  it("is a compile error where it does not apply", () => {
    const wrong = () => [
      // @ts-expect-error writes are never cached
      prisma.user.create({ data: { email: "a", displayName: "A" }, cache: false }),
      // @ts-expect-error writes are never cached
      prisma.user.update({ where: { id: 1 }, data: { displayName: "B" }, cache: { ttl: 1 } }),
      // @ts-expect-error writes are never cached
      prisma.post.deleteMany({ cache: false }),
      // @ts-expect-error writes are never cached
      prisma.tag.upsert({ where: { id: 1 }, create: { name: "x" }, update: {}, cache: false }),
      // @ts-expect-error ttl is a number of ms
      prisma.user.findMany({ cache: { ttl: "1s" } }),
      // @ts-expect-error `true` is not an option: omit `cache` to use the cache
      prisma.user.findMany({ cache: true }),
      // @ts-expect-error unknown settings are rejected
      prisma.user.findMany({ cache: { swr: 10 } }),
      // @ts-expect-error the plain client has no `cache` argument
      base.user.findMany({ cache: false }),
      // @ts-expect-error the option does not leak into nested reads
      prisma.user.findMany({ include: { posts: { cache: false } } }),
    ];
    expectTypeOf(wrong).toBeFunction();
  });

  it("$queryRawCached takes optional tables (additions), ttl and tags", () => {
    const raw = () =>
      prisma.$queryRawCached<{ n: number }[]>(sql, {
        tables: ["users", { schema: "audit", table: "Profile" }],
        ttl: 5,
      });
    expectTypeOf<Awaited<ReturnType<typeof raw>>>().toEqualTypeOf<{ n: number }[]>();
    const derived = () => prisma.$queryRawCached<{ n: number }[]>(sql);
    expectTypeOf<Awaited<ReturnType<typeof derived>>>().toEqualTypeOf<{ n: number }[]>();
    const wrong = () => [
      // @ts-expect-error tables are table names
      prisma.$queryRawCached(sql, { tables: [1] }),
      // @ts-expect-error a template string is not a Prisma.sql query
      prisma.$queryRawCached("SELECT 1", { tables: ["users"] }),
    ];
    expectTypeOf(wrong).toBeFunction();
  });

  it("exposes the engine as $cacheWatch", () => {
    expectTypeOf<ExtendedClient["$cacheWatch"]>().toEqualTypeOf<CacheWatch>();
    expectTypeOf<Prisma.UserWhereInput>().not.toHaveProperty("cache");
  });
});

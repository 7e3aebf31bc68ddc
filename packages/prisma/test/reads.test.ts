import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Prisma } from "./generated/client/client.js";
import {
  type ExtendedClient,
  expectInvalidation,
  openPrismaFixture,
  type PrismaFixture,
  statsDelta,
} from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_reads");
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

interface ReadCase {
  readonly name: string;
  /** The query, given the per-call cache option so the same query can run uncached for comparison. */
  readonly read: (prisma: ExtendedClient, cache: false | undefined) => Promise<unknown>;
  /** The table (schema.table) an external writer changes, and the change. */
  readonly table: string;
  readonly write: (writer: pg.Client) => Promise<unknown>;
}

const cases: ReadCase[] = [
  {
    name: "findMany on a @@map'ped model",
    read: (p, cache) => p.user.findMany({ orderBy: { id: "asc" }, cache }),
    table: "public.users",
    write: (w) => w.query("UPDATE public.users SET display_name = 'Alicia' WHERE id = 1"),
  },
  {
    name: "findUnique including a 1-n relation",
    read: (p, cache) =>
      p.user.findUnique({ where: { id: 1 }, include: { posts: { orderBy: { id: "asc" } } }, cache }),
    table: "public.posts",
    write: (w) => w.query("INSERT INTO public.posts (title, author_id) VALUES ('Via writer', 1)"),
  },
  {
    name: "findMany with relationLoadStrategy join (one SQL statement with lateral joins)",
    read: (p, cache) =>
      p.post.findMany({
        relationLoadStrategy: "join",
        where: { id: { in: [1, 2, 3] } },
        include: { tags: { orderBy: { id: "asc" } }, author: { include: { profile: true } } },
        orderBy: { id: "asc" },
        cache,
      }),
    table: "audit.Profile",
    write: (w) => w.query(`UPDATE audit."Profile" SET bio = 'Joined' WHERE user_id = 2`),
  },
  {
    name: "findMany with relationLoadStrategy query (one SQL statement per relation)",
    read: (p, cache) =>
      p.user.findMany({
        relationLoadStrategy: "query",
        include: { posts: { include: { tags: true }, orderBy: { id: "asc" } } },
        orderBy: { id: "asc" },
        cache,
      }),
    table: "public._PostToTag",
    write: (w) => w.query(`INSERT INTO public."_PostToTag" ("A", "B") VALUES (3, 1)`),
  },
  {
    name: "findFirst including an implicit m-n relation (join table write)",
    read: (p, cache) => p.post.findFirst({ where: { id: 2 }, include: { tags: true }, cache }),
    table: "public._PostToTag",
    write: (w) => w.query(`INSERT INTO public."_PostToTag" ("A", "B") VALUES (2, 2)`),
  },
  {
    name: "findMany with nested relation filters (some / none through m-n)",
    read: (p, cache) =>
      p.user.findMany({
        where: { posts: { some: { tags: { some: { name: "intro" } } } } },
        select: { id: true },
        cache,
      }),
    table: "public.Tag",
    write: (w) => w.query(`UPDATE public."Tag" SET name = 'renamed' WHERE id = 1`),
  },
  {
    name: "findUniqueOrThrow including a self-relation",
    read: (p, cache) =>
      p.user.findUniqueOrThrow({ where: { id: 1 }, include: { reports: { orderBy: { id: "asc" } } }, cache }),
    table: "public.users",
    write: (w) =>
      w.query(
        "INSERT INTO public.users (email, display_name, manager_id) VALUES ('carol@example.com', 'Carol', 1)",
      ),
  },
  {
    name: "findFirstOrThrow selecting a relation in another schema",
    read: (p, cache) =>
      p.user.findFirstOrThrow({
        where: { id: 2 },
        select: { email: true, profile: { select: { bio: true } } },
        cache,
      }),
    table: "audit.Profile",
    write: (w) => w.query(`UPDATE audit."Profile" SET bio = 'Architect' WHERE user_id = 2`),
  },
  {
    name: "_count of a relation",
    read: (p, cache) =>
      p.user.findUnique({ where: { id: 1 }, select: { _count: { select: { posts: true } } }, cache }),
    table: "public.posts",
    write: (w) => w.query("INSERT INTO public.posts (title, author_id) VALUES ('Counted', 1)"),
  },
  {
    name: "_count: true counts every relation",
    read: (p, cache) => p.user.findUnique({ where: { id: 2 }, include: { _count: true }, cache }),
    table: "public.posts",
    write: (w) => w.query("INSERT INTO public.posts (title, author_id) VALUES ('Counted too', 2)"),
  },
  {
    name: "count with a to-one relation filter (is)",
    read: (p, cache) => p.post.count({ where: { author: { is: { displayName: "Bob" } } }, cache }),
    table: "public.users",
    write: (w) => w.query("UPDATE public.users SET display_name = 'Bob' WHERE id = 1"),
  },
  {
    name: "orderBy a relation field",
    read: (p, cache) =>
      p.post.findMany({
        orderBy: [{ author: { email: "desc" } }, { id: "asc" }],
        select: { id: true },
        cache,
      }),
    table: "public.users",
    write: (w) => w.query("UPDATE public.users SET email = 'zara@example.com' WHERE id = 1"),
  },
  {
    name: "aggregate in the second schema",
    read: (p, cache) => p.measurement.aggregate({ _sum: { price: true }, _count: { _all: true }, cache }),
    table: "audit.measurements",
    write: (w) =>
      w.query(
        `INSERT INTO audit.measurements (price, big, blob, taken_at, data) VALUES (1, 1, '\\x01', now(), '{}')`,
      ),
  },
  {
    name: "groupBy",
    read: (p, cache) =>
      p.post.groupBy({ by: ["authorId"], _count: { _all: true }, orderBy: { authorId: "asc" }, cache }),
    table: "public.posts",
    write: (w) => w.query("INSERT INTO public.posts (title, author_id) VALUES ('Grouped', 2)"),
  },
  {
    name: "every / isNot relation filters",
    read: (p, cache) =>
      p.user.findMany({
        where: { posts: { every: { published: true } }, manager: { isNot: { displayName: "Nobody" } } },
        select: { id: true },
        orderBy: { id: "asc" },
        cache,
      }),
    table: "public.posts",
    write: (w) => w.query("UPDATE public.posts SET published = true"),
  },
];

describe("cached reads: miss, hit, external write to the related table, fresh result", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const first = await statsDelta(fx.watch, () => c.read(fx.prisma, undefined));
      expect(first.misses).toBe(1);
      const second = await statsDelta(fx.watch, () => c.read(fx.prisma, undefined));
      expect(second.hits).toBe(1);
      expect(second.value).toEqual(first.value);

      await expectInvalidation(fx.watch, c.table, () => c.write(fx.writer));

      const third = await statsDelta(fx.watch, () => c.read(fx.prisma, undefined));
      expect(third.misses).toBe(1);
      expect(third.value).not.toEqual(first.value);
      expect(third.value).toEqual(await c.read(fx.prisma, false));
    });
  }
});

describe("per-call option and configuration", () => {
  it("a hit performs no SQL analysis (no parse, no memo lookup, no catalog read)", async () => {
    const read = () => fx.prisma.user.findMany({ where: { id: { gt: 0 } }, include: { posts: true } });
    await read();
    const analyses = () => {
      const c = fx.watch.analyzer.counters;
      return c ? c.parses + c.memoHits + c.catalogLoads : Number.NaN;
    };
    const before = analyses();
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) expect((await statsDelta(fx.watch, read)).hits).toBe(1);
    expect(analyses()).toBe(before);
  });

  it("cache: false reads the database without reading or filling the cache", async () => {
    await fx.prisma.tag.findMany({ orderBy: { id: "asc" } });
    const skipped = await statsDelta(fx.watch, () =>
      fx.prisma.tag.findMany({ orderBy: { id: "asc" }, cache: false }),
    );
    expect(skipped.hits + skipped.misses).toBe(0);
    const cached = await statsDelta(fx.watch, () => fx.prisma.tag.findMany({ orderBy: { id: "asc" } }));
    expect(cached.hits).toBe(1);
  });

  it("cache.tags lets the app invalidate an entry by tag", async () => {
    const read = () => fx.prisma.tag.findMany({ where: { id: { gt: 0 } }, cache: { tags: ["tags-list"] } });
    await read();
    expect((await statsDelta(fx.watch, read)).hits).toBe(1);
    expect(fx.prisma.$cacheWatch.invalidate({ tags: ["tags-list"] })).toBe(1);
    expect((await statsDelta(fx.watch, read)).misses).toBe(1);
  });

  it("rejects an invalid per-call option with a typed error", async () => {
    await expect(fx.prisma.tag.findMany({ cache: { ttl: -1 } })).rejects.toMatchObject({
      code: "INVALID_CACHE_OPTION",
    });
  });

  it("the fluent API is cached and derives the relation it follows", async () => {
    // The typed `cache` argument replaces findUnique's signature, which drops the fluent API's types;
    // the fluent API itself still works and is cached.
    type Fluent = { posts(args: object): Promise<{ id: number }[]> };
    const read = () =>
      (fx.prisma.user.findUnique({ where: { id: 2 } }) as unknown as Fluent).posts({
        orderBy: { id: "asc" },
      });
    const first = await statsDelta(fx.watch, read);
    expect(first.misses).toBe(1);
    expect((await statsDelta(fx.watch, read)).hits).toBe(1);
    await expectInvalidation(fx.watch, "public.posts", () =>
      fx.writer.query("INSERT INTO public.posts (title, author_id) VALUES ('Bob writes', 2)"),
    );
    const third = await statsDelta(fx.watch, read);
    expect(third.misses).toBe(1);
    expect(third.value.length).toBe(first.value.length + 1);
  });

  it("errors are not cached: findUniqueOrThrow finds the row once another client inserted it", async () => {
    const read = () => fx.prisma.tag.findUniqueOrThrow({ where: { name: "late" } });
    await expect(read()).rejects.toMatchObject({ code: "P2025" });
    await fx.writer.query(`INSERT INTO public."Tag" (name) VALUES ('late')`);
    await expect(read()).resolves.toMatchObject({ name: "late" });
  });
});

describe("$queryRawCached", () => {
  it("caches a raw query under the tables its SQL reads (none named): miss, hit, external write, fresh", async () => {
    const read = () =>
      fx.prisma.$queryRawCached<{ n: number }[]>(
        Prisma.sql`SELECT count(*)::int AS n FROM audit."Profile" WHERE bio <> ${"nobody"}`,
        { ttl: 60_000 },
      );
    const first = await statsDelta(fx.watch, read);
    expect(first.misses).toBe(1);
    const second = await statsDelta(fx.watch, read);
    expect(second.hits).toBe(1);
    expect(second.value).toEqual(first.value);
    await expectInvalidation(fx.watch, "audit.Profile", () =>
      fx.writer.query(`INSERT INTO audit."Profile" (bio, user_id) VALUES ('Raw', 1)`),
    );
    const third = await statsDelta(fx.watch, read);
    expect(third.misses).toBe(1);
    expect(third.value[0]!.n).toBe(first.value[0]!.n + 1);
  });

  it("values are part of the key, $queryRaw shares the entry of the same statement, and tables must not be empty", async () => {
    const byBio = (bio: string) =>
      fx.prisma.$queryRawCached<{ n: number }[]>(
        Prisma.sql`SELECT count(*)::int AS n FROM audit."Profile" WHERE bio = ${bio}`,
        { tables: [{ schema: "audit", table: "Profile" }] },
      );
    expect((await byBio("Raw"))[0]!.n).toBe(1);
    expect((await byBio("none"))[0]!.n).toBe(0);
    const query = Prisma.sql`SELECT 1 AS one`;
    await fx.prisma.$queryRawCached(query);
    expect((await statsDelta(fx.watch, () => fx.prisma.$queryRaw(query))).hits).toBe(1);
    await expect(fx.prisma.$queryRawCached(query, { tables: [] })).rejects.toMatchObject({
      code: "INVALID_CACHE_OPTION",
    });
  });

  it("bypasses the cache inside a transaction", async () => {
    const query = Prisma.sql`SELECT count(*)::int AS n FROM public."Tag"`;
    await fx.prisma.$queryRawCached(query);
    const inside = await statsDelta(fx.watch, () =>
      fx.prisma.$transaction(async (tx) => {
        await tx.tag.create({ data: { name: "raw-in-tx" } });
        return tx.$queryRawCached<{ n: number }[]>(query);
      }),
    );
    expect(inside.hits + inside.misses).toBe(0);
    const outside = await fx.prisma.$queryRawCached<{ n: number }[]>(query);
    expect(outside).toEqual(inside.value);
  });
});

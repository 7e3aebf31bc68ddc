import { createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgCacheWatch } from "../src/index.js";
import { Prisma, PrismaClient } from "./generated/client/client.js";
import {
  expectInvalidation,
  openPrismaFixture,
  type PrismaFixture,
  statsDelta,
} from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_raw");
let fx: PrismaFixture;

beforeAll(async () => {
  fx = await openPrismaFixture(db);
  // Reads "Tag" behind a function call: the analyzer cannot see through it.
  await fx.writer.query(
    `CREATE FUNCTION public.tag_total() RETURNS int LANGUAGE sql STABLE AS 'SELECT count(*)::int FROM public."Tag"'`,
  );
});
beforeEach(async () => {
  await fx.settle();
});
afterAll(async () => {
  await fx?.close();
});

describe("$queryRaw is cached under the tables its SQL reads, none named", () => {
  it("a join of two tables: miss, hit, external write to each table, fresh", async () => {
    const read = () =>
      fx.prisma.$queryRaw<{ name: string; posts: number }[]>`
        SELECT u.display_name AS name, count(p.id)::int AS posts
        FROM public.users u JOIN public.posts p ON p.author_id = u.id
        WHERE u.id = ${1}
        GROUP BY u.display_name`;
    const first = await statsDelta(fx.watch, read);
    expect(first.misses).toBe(1);
    expect(first.value).toEqual([{ name: "Alice", posts: 2 }]);
    const analyses = () => {
      const c = fx.watch.analyzer.counters;
      return c ? c.parses + c.memoHits + c.catalogLoads : Number.NaN;
    };
    const analysed = analyses();
    const second = await statsDelta(fx.watch, read);
    expect(second.hits).toBe(1);
    expect(second.value).toEqual(first.value);
    // A raw hit does no analysis either (the text is known to be a plain read).
    expect(analyses()).toBe(analysed);

    await expectInvalidation(fx.watch, "public.users", () =>
      fx.writer.query("UPDATE public.users SET display_name = 'Alicia' WHERE id = 1"),
    );
    const afterUsers = await statsDelta(fx.watch, read);
    expect(afterUsers.misses).toBe(1);
    expect(afterUsers.value).toEqual([{ name: "Alicia", posts: 2 }]);
    expect((await statsDelta(fx.watch, read)).hits).toBe(1);

    await expectInvalidation(fx.watch, "public.posts", () =>
      fx.writer.query("INSERT INTO public.posts (title, author_id) VALUES ('Raw post', 1)"),
    );
    const afterPosts = await statsDelta(fx.watch, read);
    expect(afterPosts.misses).toBe(1);
    expect(afterPosts.value).toEqual([{ name: "Alicia", posts: 3 }]);
  });

  it("$queryRawUnsafe too, its values in the key", async () => {
    const read = (id: number) =>
      fx.prisma.$queryRawUnsafe<{ title: string }[]>("SELECT title FROM public.posts WHERE id = $1", id);
    expect((await statsDelta(fx.watch, () => read(1))).misses).toBe(1);
    expect((await statsDelta(fx.watch, () => read(1))).hits).toBe(1);
    const other = await statsDelta(fx.watch, () => read(3));
    expect(other.misses).toBe(1);
    expect(other.value).toEqual([{ title: "By Bob" }]);
    await expectInvalidation(fx.watch, "public.posts", () =>
      fx.writer.query("UPDATE public.posts SET title = 'Renamed' WHERE id = 1"),
    );
    expect(await read(1)).toEqual([{ title: "Renamed" }]);
  });

  it("a statement the analyzer cannot see through is not cached, unless $queryRawCached names its tables", async () => {
    const query = Prisma.sql`SELECT public.tag_total() AS n`;
    await fx.prisma.$queryRaw(query);
    const again = await statsDelta(fx.watch, () => fx.prisma.$queryRaw(query));
    expect(again.hits + again.misses).toBe(0);

    const named = () => fx.prisma.$queryRawCached<{ n: number }[]>(query, { tables: ["Tag"] });
    const before = (await named())[0]!.n;
    expect((await statsDelta(fx.watch, named)).hits).toBe(1);
    await expectInvalidation(fx.watch, "public.Tag", () =>
      fx.writer.query(`INSERT INTO public."Tag" (name) VALUES ('behind a function')`),
    );
    const fresh = await statsDelta(fx.watch, named);
    expect(fresh.misses).toBe(1);
    expect(fresh.value[0]!.n).toBe(before + 1);
  });

  it("a session-dependent statement (current_user) is not cached", async () => {
    await fx.prisma.$queryRaw`SELECT current_user AS who`;
    const again = await statsDelta(fx.watch, () => fx.prisma.$queryRaw`SELECT current_user AS who`);
    expect(again.hits + again.misses).toBe(0);
    expect(again.value).toEqual([{ who: "postgres" }]);
  });

  it("statements that are not plain reads run once per caller, even concurrently with the same text", async () => {
    const next = () => fx.prisma.$queryRaw<{ n: bigint }[]>`SELECT nextval('public.posts_id_seq') AS n`;
    const [a, b] = await Promise.all([next(), next()]);
    expect(a[0]!.n).not.toBe(b[0]!.n);
    const title = `twice-${process.pid}`;
    const insert = () =>
      fx.prisma.$queryRaw<
        { id: number }[]
      >`INSERT INTO public.posts (title, author_id) VALUES (${title}, 1) RETURNING id`;
    const locked = () => fx.prisma.$queryRaw`SELECT id FROM public.users WHERE id = 1 FOR UPDATE`;
    const results = await statsDelta(fx.watch, () => Promise.all([insert(), insert(), locked(), locked()]));
    expect(results.hits + results.misses).toBe(0);
    const rows = await fx.writer.query("SELECT count(*)::int AS n FROM public.posts WHERE title = $1", [
      title,
    ]);
    expect(rows.rows[0].n).toBe(2);
  });

  it("cacheRawQueries: false leaves $queryRaw uncached; $queryRawCached still caches", async () => {
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    const prisma = base.$extends(pgCacheWatch({ watch: fx.watch, cacheRawQueries: false }));
    try {
      const query = Prisma.sql`SELECT count(*)::int AS n FROM audit."Profile" WHERE id > ${-1}`;
      await prisma.$queryRaw(query);
      const plain = await statsDelta(fx.watch, () => prisma.$queryRaw(query));
      expect(plain.hits + plain.misses).toBe(0);
      await prisma.$queryRawCached(query);
      expect((await statsDelta(fx.watch, () => prisma.$queryRawCached(query))).hits).toBe(1);
    } finally {
      await base.$disconnect();
    }
  });
});

describe("$executeRaw invalidates what it wrote at once (read-your-writes, no notification needed)", () => {
  it("with no change source at all, the next raw and model reads see the new value", async () => {
    const watch = createCacheWatch({ connectionString: db.url, source: "none" });
    await watch.start();
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    const prisma = base.$extends(pgCacheWatch({ watch }));
    try {
      const raw = () =>
        prisma.$queryRaw<{ name: string }[]>`SELECT display_name AS name FROM public.users WHERE id = 2`;
      const model = () => prisma.user.findUnique({ where: { id: 2 }, select: { displayName: true } });
      await raw();
      await model();
      expect((await statsDelta(watch, raw)).hits).toBe(1);
      expect((await statsDelta(watch, model)).hits).toBe(1);

      const changed =
        await prisma.$executeRaw`UPDATE public.users SET display_name = ${"Written raw"} WHERE id = 2`;
      expect(changed).toBe(1);
      const rawAfter = await statsDelta(watch, raw);
      expect(rawAfter.misses).toBe(1);
      expect(rawAfter.value).toEqual([{ name: "Written raw" }]);
      const modelAfter = await statsDelta(watch, model);
      expect(modelAfter.misses).toBe(1);
      expect(modelAfter.value).toEqual({ displayName: "Written raw" });

      // $executeRawUnsafe, and a write inside an interactive transaction (invalidated at COMMIT).
      await prisma.$executeRawUnsafe("UPDATE public.users SET display_name = $1 WHERE id = 2", "Unsafe");
      expect(await raw()).toEqual([{ name: "Unsafe" }]);
      await prisma.$transaction(async (tx) => {
        await tx.$executeRaw`UPDATE public.users SET display_name = ${"In transaction"} WHERE id = 2`;
        // Not committed: the shared entry still holds the committed value.
        expect((await statsDelta(watch, raw)).value).toEqual([{ name: "Unsafe" }]);
      });
      const committed = await statsDelta(watch, raw);
      expect(committed.misses).toBe(1);
      expect(committed.value).toEqual([{ name: "In transaction" }]);
      expect(watch.stats().eventsReceived).toBe(0);
    } finally {
      await base.$disconnect();
      await watch.stop();
    }
  });
});

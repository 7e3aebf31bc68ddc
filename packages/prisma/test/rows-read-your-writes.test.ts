import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TEST_SCHEMA_DDL } from "./support/ddl.js";
import { createExtendedClient, type ExtendedClient, seed } from "./support/prisma-fixture.js";

// No triggers and no change source: every refresh these tests see comes from Prisma's own write.
const db = useTestDatabase("prisma_rows_ryw");
let writer: pg.Client;
let watch: CacheWatch;
let prisma: ExtendedClient;
let disconnect: () => Promise<void>;

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(TEST_SCHEMA_DDL);
  watch = createCacheWatch({ connectionString: db.url, source: "none" });
  await watch.start();
  const client = createExtendedClient(db.url, watch);
  prisma = client.prisma;
  disconnect = () => client.prisma.$disconnect();
});
afterAll(async () => {
  await disconnect?.();
  await watch?.stop();
});
beforeEach(async () => {
  await writer.query(`TRUNCATE public.users, public.posts, public."Tag", public."_PostToTag", audit."Profile",
                      audit.measurements RESTART IDENTITY CASCADE`);
  await seed(writer);
  // Posts 4-8: even ids by Alice (1), odd ids by Bob (2).
  await writer.query(`INSERT INTO public.posts (id, title, author_id)
                      SELECT i, 'post ' || i, 1 + i % 2 FROM generate_series(4, 8) i`);
  watch.invalidateAll();
});

const title = (id: number) => prisma.post.findUnique({ where: { id }, select: { title: true } });
const byAuthor = (authorId: number) =>
  prisma.post.findMany({ where: { authorId }, select: { id: true }, orderBy: { id: "asc" } });
const count = () => prisma.post.count();
const profileOf = (userId: number) => prisma.profile.findUnique({ where: { userId }, select: { bio: true } });

async function read<T>(query: () => Promise<T>): Promise<{ hit: boolean; value: T }> {
  const before = watch.stats().hits;
  const value = await query();
  return { hit: watch.stats().hits === before + 1, value };
}

async function warm(...queries: (() => Promise<unknown>)[]): Promise<void> {
  for (const query of queries) await query();
  for (const query of queries) expect((await read(query)).hit).toBe(true);
}

describe("Prisma writes drop the rows they name", () => {
  it("update of post 7: post 5 is still a hit, post 7 and count() are fresh; RETURNING names the author", async () => {
    await warm(
      () => title(5),
      () => title(7),
      count,
      () => byAuthor(1),
      () => byAuthor(2),
    );
    // Prisma's UPDATE returns the row: its author (Bob, 2) is named, Alice's read stays.
    await prisma.post.update({ where: { id: 7 }, data: { title: "seven!" } });
    expect(await read(() => title(5))).toEqual({ hit: true, value: { title: "post 5" } });
    expect(await read(() => title(7))).toEqual({ hit: false, value: { title: "seven!" } });
    expect((await read(count)).hit).toBe(false);
    expect((await read(() => byAuthor(1))).hit).toBe(true);
    expect((await read(() => byAuthor(2))).hit).toBe(false);
  });

  it("a key-moving update: the moved post's old and new authors read fresh", async () => {
    await warm(
      () => title(5),
      () => byAuthor(1),
      () => byAuthor(2),
    );
    await prisma.post.update({ where: { id: 7 }, data: { authorId: 1 } });
    expect((await read(() => byAuthor(2))).value.map((p) => p.id)).toEqual([3, 5]);
    expect((await read(() => byAuthor(1))).value.map((p) => p.id)).toEqual([1, 2, 4, 6, 7, 8]);
    expect((await read(() => title(5))).hit).toBe(true);
  });

  it("deleteMany with an id list, and delete of a user whose profile goes by ON DELETE CASCADE", async () => {
    await warm(
      () => title(5),
      () => title(7),
      () => title(8),
      () => profileOf(2),
    );
    await prisma.post.deleteMany({ where: { id: { in: [7, 8] } } });
    expect((await read(() => title(5))).hit).toBe(true);
    expect(await read(() => title(7))).toEqual({ hit: false, value: null });
    expect(await read(() => title(8))).toEqual({ hit: false, value: null });
    // Bob's profile (and posts) go with him: the cached profile read must not survive.
    await prisma.user.delete({ where: { id: 2 } });
    expect(await read(() => profileOf(2))).toEqual({ hit: false, value: null });
    expect((await read(() => title(5))).value).toBeNull();
  });

  it("create: the new row's key comes back through RETURNING", async () => {
    await warm(
      () => title(5),
      () => title(11),
      () => byAuthor(1),
    );
    const created = await prisma.post.create({ data: { title: "eleven", authorId: 2 } });
    expect(created.id).toBe(11);
    expect(await read(() => title(11))).toEqual({ hit: false, value: { title: "eleven" } });
    expect((await read(() => title(5))).hit).toBe(true);
    expect((await read(() => byAuthor(1))).hit).toBe(true);
  });

  it("an interactive transaction: dropped at commit only", async () => {
    await warm(
      () => title(5),
      () => title(7),
    );
    await prisma.$transaction(async (tx) => {
      await tx.post.update({ where: { id: 7 }, data: { title: "in tx" } });
      expect(await read(() => title(7))).toEqual({ hit: true, value: { title: "post 7" } });
    });
    expect(await read(() => title(7))).toEqual({ hit: false, value: { title: "in tx" } });
    expect((await read(() => title(5))).hit).toBe(true);
  });
});

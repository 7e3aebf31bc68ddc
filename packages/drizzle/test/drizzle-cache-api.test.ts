import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { asc, eq, inArray, like } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CacheNotConfiguredError } from "../src/index.js";
import { changeOf, createSchema, type Harness, openHarness } from "./support/harness.js";
import { posts, schema, users } from "./support/schema.js";

const fixture = useTestDatabase("drizzle-cache-api");
let harness: Harness;
let global: Harness;
let writer: pg.Client;

beforeAll(async () => {
  await createSchema(fixture);
  harness = await openHarness(fixture);
  global = await openHarness(fixture, { global: true });
  writer = await fixture.externalWriter();
});
afterAll(async () => {
  await harness?.close();
  await global?.close();
});

describe("Drizzle's own $withCache()", () => {
  const authorsOf = (title: string) =>
    harness.db
      .select({ name: users.name })
      .from(users)
      .where(
        inArray(
          users.id,
          harness.db.select({ id: posts.authorId }).from(posts).where(like(posts.title, title)),
        ),
      )
      .orderBy(asc(users.id));

  test("goes through the engine with every table of the query", async () => {
    const { watch } = harness;
    const before = watch.stats();
    const first = await authorsOf("wc-%").$withCache();
    expect(await authorsOf("wc-%").$withCache()).toEqual(first);
    expect(watch.stats().hits - before.hits).toBe(1);
    // posts is only in the WHERE subquery: Drizzle's own table list misses it.
    const changed = changeOf(watch, "public.posts");
    await writer.query("insert into posts (author_id, title) values (3, 'wc-1')");
    await changed;
    const fresh = await authorsOf("wc-%").$withCache();
    expect(fresh).not.toEqual(first);
    expect(fresh).toEqual(await authorsOf("wc-%"));
  });

  test("db.$cache.invalidate({ tables }) drops the entries of those tables", async () => {
    const { db, watch } = harness;
    await db.select().from(users).$withCache();
    await db.select().from(users).$cached();
    const dropped = new Promise<{ tables: readonly string[]; entries: number }>((resolve) =>
      watch.once("invalidate", resolve),
    );
    await db.$cache.invalidate({ tables: users });
    const info = await dropped;
    expect(info.tables).toEqual(["public.users"]);
    expect(info.entries).toBeGreaterThanOrEqual(2);
    const before = watch.stats();
    await db.select().from(users).$withCache();
    await db.select().from(users).$cached();
    expect(watch.stats().misses - before.misses).toBe(2);
  });

  test("a tag is the key, and db.$cache.invalidate({ tags }) drops it", async () => {
    const { db, watch } = harness;
    const first = await db.select().from(users).where(eq(users.id, 1)).$withCache({ tag: "user-1" });
    const before = watch.stats();
    expect(await db.select().from(users).where(eq(users.id, 1)).$withCache({ tag: "user-1" })).toEqual(first);
    expect(watch.stats().hits - before.hits).toBe(1);
    await db.$cache.invalidate({ tags: "user-1" });
    await db.select().from(users).where(eq(users.id, 1)).$withCache({ tag: "user-1" });
    expect(watch.stats().misses - before.misses).toBe(1);
  });

  test("$cached() tags work the same way", async () => {
    const { db, watch } = harness;
    await db.select().from(posts).$cached({ tag: "all-posts" });
    const before = watch.stats();
    await db.$cache.invalidate({ tags: ["all-posts"] });
    await db.select().from(posts).$cached({ tag: "all-posts" });
    expect(watch.stats().misses - before.misses).toBe(1);
  });
});

describe("global caching (strategy 'all')", () => {
  test("plain awaited selects are cached and invalidated; $withCache(false) opts out", async () => {
    const { db, watch } = global;
    const query = () => db.select().from(posts).orderBy(posts.id);
    const first = await query();
    const before = watch.stats();
    expect(await query()).toEqual(first);
    expect(watch.stats().hits - before.hits).toBe(1);
    await query().$withCache(false);
    expect(watch.stats().hits - before.hits).toBe(1);
    const changed = changeOf(watch, "public.posts");
    await writer.query("insert into posts (author_id, title) values (1, 'global')");
    await changed;
    expect((await query()).map((row) => row.title)).toContain("global");
  });
});

describe("results", () => {
  test("a caller cannot change what the next caller gets (jsonb, Date)", async () => {
    const { db } = harness;
    const query = () => db.select().from(users).where(eq(users.id, 1));
    const [first] = await query().$cached();
    if (!first?.profile) throw new Error("fixture row 1 has a profile");
    first.profile.tags.push("mutated");
    first.createdAt.setFullYear(1999);
    const [second] = await query().$cached();
    expect(second?.profile?.tags).toEqual(["math"]);
    expect(second?.createdAt).toBeInstanceOf(Date);
    expect(second?.createdAt.getFullYear()).not.toBe(1999);
  });

  test("the same SQL with another result shape is another entry", async () => {
    const { db } = harness;
    const a = await db.select({ a: users.id }).from(users).orderBy(users.id).$cached();
    const b = await db.select({ b: users.id }).from(users).orderBy(users.id).$cached();
    expect(Object.keys(a[0] ?? {})).toEqual(["a"]);
    expect(Object.keys(b[0] ?? {})).toEqual(["b"]);
  });

  test("findFirst and findMany with limit 1 render the same SQL but are separate entries", async () => {
    const { db } = harness;
    const many = await db.query.users.findMany({ limit: 1, orderBy: users.id }).$cached();
    const first = await db.query.users.findFirst({ orderBy: users.id }).$cached();
    expect(Array.isArray(many)).toBe(true);
    expect(Array.isArray(first)).toBe(false);
    expect(first).toEqual(many[0]);
  });

  test("errors reach the caller and are not cached", async () => {
    const { db, watch } = harness;
    const broken = () =>
      db
        .select()
        .from(users)
        .where(eq(users.id, "not a number" as unknown as number));
    const before = watch.stats();
    await expect(broken().$cached()).rejects.toThrow("Failed query");
    await expect(broken().$cached()).rejects.toThrow("Failed query");
    expect(watch.stats().loadErrors - before.loadErrors).toBe(2);
  });
});

test("$cached() on a db without the PGCacheWatch cache rejects with a typed error", async () => {
  const pool = new pg.Pool({ connectionString: fixture.url, max: 1 });
  try {
    const plain = drizzle({ client: pool, schema });
    const error = await plain
      .select()
      .from(users)
      .$cached()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheNotConfiguredError);
    expect(error).toMatchObject({ code: "DRIZZLE_CACHE_NOT_CONFIGURED" });
    // Everything else about that db is untouched.
    expect((await plain.select().from(users)).length).toBeGreaterThan(0);
  } finally {
    await pool.end();
  }
});

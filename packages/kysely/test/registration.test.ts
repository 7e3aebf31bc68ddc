import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  CacheDialectMissingError,
  CachePluginMissingError,
  cached,
  InvalidCacheOptionError,
  pgCacheWatch,
} from "../src/index.js";
import { createSchema, type Database } from "./support/schema.js";

const database = useTestDatabase("kysely_registration");
let watch: CacheWatch;
let pool: pg.Pool;
let db: Kysely<Database>;
const others: Kysely<Database>[] = [];

beforeAll(async () => {
  const writer = await database.externalWriter();
  await createSchema(writer);
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  watch = createCacheWatch({ connectionString: database.url });
  await watch.start();
  const cache = pgCacheWatch(watch, { ttl: 10_000 });
  db = new Kysely<Database>({ dialect: cache.dialect(new PostgresDialect({ pool })), plugins: [cache] });
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  for (const other of others) await other.destroy();
  await db?.destroy();
  await watch?.stop();
});

const usersQuery = () => db.selectFrom("users").select(["id", "name"]).orderBy("id");

describe("registration", () => {
  it("cached() on a Kysely without the plugin fails with a typed error", async () => {
    const unplugged = new Kysely<Database>({
      dialect: pgCacheWatch(watch).dialect(
        new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url }) }),
      ),
    });
    others.push(unplugged);
    const error = await unplugged
      .selectFrom("users")
      .selectAll()
      .$call(cached())
      .execute()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CachePluginMissingError);
    expect((error as CachePluginMissingError).code).toBe("KYSELY_CACHE_PLUGIN_MISSING");
    // Queries that do not ask for the cache still work.
    expect(await unplugged.selectFrom("users").selectAll().execute()).toHaveLength(2);
  });

  it("the plugin without its dialect wrapper fails with a typed error", async () => {
    const cache = pgCacheWatch(watch);
    const unwrapped = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url }) }),
      plugins: [cache],
    });
    others.push(unwrapped);
    const error = await unwrapped
      .selectFrom("users")
      .selectAll()
      .execute()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheDialectMissingError);
    expect((error as CacheDialectMissingError).code).toBe("KYSELY_CACHE_DIALECT_MISSING");
  });

  it("bad options fail fast with a typed error", () => {
    expect(() => cached({ ttl: -1 })).toThrow(InvalidCacheOptionError);
    expect(() => cached({ ttl: Number.NaN })).toThrow(InvalidCacheOptionError);
    expect(() => pgCacheWatch(watch, { ttl: Number.POSITIVE_INFINITY })).toThrow(InvalidCacheOptionError);
    expect(() => cached({ scope: 7 as unknown as string })).toThrow(InvalidCacheOptionError);
  });

  it("declared tables and tags are part of the key: a query with more declared tables does not reuse an entry with fewer", async () => {
    const names = () => db.selectFrom("users").select("name").orderBy("name");
    const before = watch.stats();
    await names().$call(cached()).execute();
    await names()
      .$call(cached({ tables: ["posts"] }))
      .execute();
    await names()
      .$call(cached({ tables: ["posts"] }))
      .execute();
    expect(watch.stats().hits).toBe(before.hits + 1);
    // The second entry is also dropped by a change to posts, which the SQL does not read.
    expect(watch.invalidate({ tables: ["posts"] })).toBeGreaterThanOrEqual(1);
    await names()
      .$call(cached({ tables: ["posts"] }))
      .execute();
    expect(watch.stats().hits).toBe(before.hits + 1);
  });
});

describe("opting in", () => {
  it("per query with $call(cached()), per fragment with withPlugin(cached())", async () => {
    const before = watch.stats();
    await usersQuery().$call(cached()).execute();
    await usersQuery().$call(cached()).execute();
    await usersQuery().withPlugin(cached()).execute();
    expect(watch.stats().hits).toBe(before.hits + 2);
    const raw = sql<{ n: number }>`select count(*)::int as n from users`.withPlugin(
      cached({ tables: ["users"] }),
    );
    expect((await raw.execute(db)).rows).toEqual([{ n: 2 }]);
    expect((await raw.execute(db)).rows).toEqual([{ n: 2 }]);
    expect(watch.stats().hits).toBe(before.hits + 3);
  });

  it("for a whole scope with db.withPlugin(cached()), and cached(false) opts one query out", async () => {
    const scoped = db.withPlugin(cached());
    const posts = () => scoped.selectFrom("posts").select(["id", "title"]).orderBy("id");
    await posts().execute();
    const before = watch.stats();
    await posts().execute();
    expect(watch.stats().hits).toBe(before.hits + 1);
    await posts().$call(cached(false)).execute();
    await posts().$call(cached(false)).execute();
    const after = watch.stats();
    expect([after.hits, after.misses, after.bypassed]).toEqual([
      before.hits + 1,
      before.misses,
      before.bypassed,
    ]);
  });

  it("a builder reused after compile() without the marker is not cached by accident", async () => {
    const base = db.selectFrom("admins").select(["id", "name"]);
    base.$call(cached()).compile(); // marks a pass that is never executed
    const before = watch.stats();
    await base.execute();
    await base.execute();
    const after = watch.stats();
    expect([after.hits, after.misses]).toEqual([before.hits, before.misses]);
  });
});

describe("ttl and tags", () => {
  it("per-query ttl overrides the plugin's default", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const short = () =>
      usersQuery()
        .$call(cached({ ttl: 1_000 }))
        .where("id", ">", 0)
        .execute();
    const byDefault = () => usersQuery().$call(cached()).where("id", ">", 1).execute();
    watch.invalidate({ tables: ["users"] });
    await short();
    await byDefault();
    const before = watch.stats();
    vi.setSystemTime(Date.now() + 5_000);
    await short(); // expired after 1 s
    await byDefault(); // the plugin's 10 s default still holds
    expect(watch.stats().misses).toBe(before.misses + 1);
    expect(watch.stats().hits).toBe(before.hits + 1);
    vi.setSystemTime(Date.now() + 10_000);
    await byDefault();
    expect(watch.stats().misses).toBe(before.misses + 2);
  });

  it("tags allow manual invalidation", async () => {
    const tagged = () =>
      usersQuery()
        .$call(cached({ tags: ["directory"] }))
        .where("id", "<", 100)
        .execute();
    await tagged();
    const before = watch.stats();
    await tagged();
    expect(watch.stats().hits).toBe(before.hits + 1);
    expect(watch.invalidate({ tags: ["directory"] })).toBe(1);
    await tagged();
    expect(watch.stats().misses).toBe(before.misses + 1);
  });
});

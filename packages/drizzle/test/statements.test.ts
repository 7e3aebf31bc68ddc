import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { asc, eq, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CacheNotConfiguredError, pgCacheWatchCache } from "../src/index.js";
import { changeOf, createSchema, type Harness, openHarness, storedDependencies } from "./support/harness.js";
import { schema, users } from "./support/schema.js";

const fixture = useTestDatabase("drizzle-statements");
let harness: Harness;
let writer: pg.Client;

beforeAll(async () => {
  await createSchema(fixture);
  harness = await openHarness(fixture);
  writer = await fixture.externalWriter();
});
afterAll(async () => {
  await harness?.close();
});

const names = (db: NodePgDatabase<typeof schema>) =>
  db.select({ id: users.id, name: users.name }).from(users).orderBy(asc(users.id));

/** What analysis the engine has done so far (parses and memo lookups). */
function analysisWork(watch: CacheWatch): number {
  const { counters } = watch.analyzer as unknown as { counters: { parses: number; memoHits: number } };
  return counters.parses + counters.memoHits;
}

describe("Drizzle on one shared pg.Client", () => {
  let client: pg.Client;
  let watch: CacheWatch;
  let db: NodePgDatabase<typeof schema>;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: fixture.url });
    await client.connect();
    watch = createCacheWatch({ connectionString: fixture.url });
    await watch.start();
    db = drizzle({ client, schema, cache: pgCacheWatchCache(watch) });
  });
  afterAll(async () => {
    await watch?.stop();
    await client?.end();
  });

  test("a read from another request while db.transaction() holds the client neither fills nor serves its rows", async () => {
    const committed = await names(db);
    let written!: () => void;
    const insideWritten = new Promise<void>((resolve) => {
      written = resolve;
    });
    let finish!: () => void;
    const mayFinish = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const transaction = db.transaction(async (tx) => {
      // Raw SQL: no builder, no change event (the transaction rolls back).
      await tx.execute(sql`update users set name = 'uncommitted' where id = 1`);
      written();
      await mayFinish;
      tx.rollback();
    });
    await insideWritten;
    // Another request, outside the transaction's async context, on the same connection: it runs
    // inside the transaction and sees the uncommitted row.
    const before = watch.stats();
    const during = await names(db).$cached();
    expect(during.find((row) => row.id === 1)?.name).toBe("uncommitted");
    const bypassed = watch.stats().bypassed - before.bypassed;
    finish();
    await expect(transaction).rejects.toThrow();
    expect(watch.inTransaction(client)).toBe(false);
    // The rolled-back row must not be served from the cache.
    expect(await names(db).$cached()).toEqual(committed);
    expect(await names(db).$cached()).toEqual(committed);
    expect(bypassed).toBe(1);
  });

  test("outside a transaction the same client caches, and its writes invalidate at once", async () => {
    const before = watch.stats();
    await names(db).$cached();
    await names(db).$cached();
    expect(watch.stats().hits - before.hits).toBeGreaterThanOrEqual(1);
    await db.update(users).set({ name: "single-client" }).where(eq(users.id, 4));
    expect((await names(db).$cached()).find((row) => row.id === 4)?.name).toBe("single-client");
  });
});

describe("raw SQL: db.execute(sql`...`).$cached()", () => {
  const authorsAndPosts = () =>
    harness.db
      .execute<{ name: string; n: number }>(
        sql`select u.name, count(p.id)::int as n from users u left join posts p on p.author_id = u.id where u.id < ${100} group by u.name order by u.name`,
      )
      .$cached();

  test("misses, hits, depends on every table it reads with none named", async () => {
    const { watch } = harness;
    expect(await storedDependencies(watch, authorsAndPosts)).toEqual(["public.posts", "public.users"]);
    const before = watch.stats();
    const first = await authorsAndPosts();
    const second = await authorsAndPosts();
    expect(watch.stats().misses - before.misses).toBe(1);
    expect(watch.stats().hits - before.hits).toBe(1);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(first.rows.length).toBeGreaterThan(0);
    expect(first).toMatchObject({ command: "SELECT", rowCount: first.rows.length });
  });

  test.each([
    ["public.users", "insert into users (name) values ('raw-new-user')"],
    ["public.posts", "insert into posts (author_id, title) values (1, 'raw-new-post')"],
  ])("is fresh after an external write to %s", async (table, write) => {
    const { watch } = harness;
    const first = await authorsAndPosts();
    const changed = changeOf(watch, table);
    await writer.query(write);
    await changed;
    const before = watch.stats();
    const fresh = await authorsAndPosts();
    expect(watch.stats().misses - before.misses).toBe(1);
    expect(fresh.rows).not.toEqual(first.rows);
    expect(fresh.rows).toEqual((await harness.db.execute(sql.raw(authorsAndPostsText()))).rows);
  });

  test("a hit does no analysis", async () => {
    const { watch } = harness;
    await authorsAndPosts();
    await names(harness.db).$cached();
    const work = analysisWork(watch);
    const before = watch.stats();
    for (let i = 0; i < 5; i++) await authorsAndPosts();
    for (let i = 0; i < 5; i++) await names(harness.db).$cached();
    expect(watch.stats().hits - before.hits).toBe(10);
    expect(analysisWork(watch)).toBe(work);
  });
});

function authorsAndPostsText(): string {
  return "select u.name, count(p.id)::int as n from users u left join posts p on p.author_id = u.id where u.id < 100 group by u.name order by u.name";
}

describe("raw writes through db.execute", () => {
  let local: Harness;
  beforeAll(async () => {
    // No listener: only the adapter's own read-your-writes can invalidate here.
    local = await openHarness(fixture, { source: "none" });
  });
  afterAll(async () => {
    await local?.close();
  });

  test("a raw UPDATE invalidates its table at once", async () => {
    const { db, watch } = local;
    await names(db).$cached();
    const seen: string[] = [];
    watch.on("invalidate", (info) => {
      if (info.reason === "mutation") seen.push(...info.tables);
    });
    await db.execute(sql`update users set name = ${"raw-ryw"} where id = ${2}`);
    expect(seen).toEqual(["public.users"]);
    expect((await names(db).$cached()).find((row) => row.id === 2)?.name).toBe("raw-ryw");
  });

  test("a raw write inside db.transaction() invalidates after COMMIT", async () => {
    const { db, watch } = local;
    await names(db).$cached();
    const seen: string[] = [];
    watch.on("invalidate", (info) => {
      if (info.reason === "mutation") seen.push(...info.tables);
    });
    await db.transaction(async (tx) => {
      await tx.execute(sql`update users set name = 'raw-in-tx' where id = 3`);
      expect(seen).toEqual([]);
    });
    expect(seen).toEqual(["public.users"]);
    expect((await names(db).$cached()).find((row) => row.id === 3)?.name).toBe("raw-in-tx");
  });
});

describe("prepared statements: .prepare(name).$cached(values)", () => {
  const byId = () =>
    harness.db
      .select({ id: users.id, name: users.name })
      .from(users)
      .where(eq(users.id, sql.placeholder("id")))
      .prepare("drizzle_user_by_id");

  test("misses, hits per placeholder value, and is fresh after an external write", async () => {
    const { watch } = harness;
    const prepared = byId();
    const before = watch.stats();
    const first = await prepared.$cached({ id: 1 });
    expect(await prepared.$cached({ id: 1 })).toEqual(first);
    expect(await prepared.$cached({ id: 2 })).not.toEqual(first);
    expect(watch.stats().misses - before.misses).toBe(2);
    expect(watch.stats().hits - before.hits).toBe(1);
    const changed = changeOf(watch, "public.users");
    await writer.query("update users set name = 'prepared-fresh' where id = 1");
    await changed;
    expect(await prepared.$cached({ id: 1 })).toEqual([{ id: 1, name: "prepared-fresh" }]);
  });

  test("shares entries with the same builder's $cached()", async () => {
    const { db, watch } = harness;
    await byId().$cached({ id: 3 });
    const before = watch.stats();
    await db.select({ id: users.id, name: users.name }).from(users).where(eq(users.id, 3)).$cached();
    expect(watch.stats().hits - before.hits).toBe(1);
  });

  test("relational queries and $withCache().prepare() too, with the options of $cached()", async () => {
    const { db, watch } = harness;
    const relational = db.query.users
      .findFirst({ where: eq(users.id, sql.placeholder("id")), with: { posts: true } })
      .prepare("drizzle_user_with_posts");
    const withCache = db
      .select()
      .from(users)
      .where(eq(users.id, sql.placeholder("id")))
      .$withCache()
      .prepare("drizzle_user_with_cache");
    const before = watch.stats();
    const first = await relational.$cached({ id: 1 }, { tag: "user-1-posts" });
    expect(first?.posts.length).toBeGreaterThan(0);
    expect(await relational.$cached({ id: 1 }, { tag: "user-1-posts" })).toEqual(first);
    await withCache.$cached({ id: 1 });
    await withCache.$cached({ id: 1 });
    // One load each: $withCache's own path does not nest a second load inside ours.
    expect(watch.stats().loads - before.loads).toBe(2);
    expect(watch.stats().hits - before.hits).toBe(2);
    watch.invalidate({ tags: ["user-1-posts"] });
    await relational.$cached({ id: 1 }, { tag: "user-1-posts" });
    expect(watch.stats().loads - before.loads).toBe(3);
  });

  test("a prepared write just runs, and invalidates at once", async () => {
    const { db } = harness;
    await names(db).$cached();
    const rename = db
      .update(users)
      .set({ name: sql.placeholder("name") as unknown as string })
      .where(eq(users.id, 4))
      .prepare("drizzle_rename_4");
    await rename.$cached({ name: "prepared-write" });
    expect((await names(db).$cached()).find((row) => row.id === 4)?.name).toBe("prepared-write");
  });

  test("on a db without the PGCacheWatch cache it rejects with a typed error", async () => {
    const pool = new pg.Pool({ connectionString: fixture.url, max: 1 });
    try {
      const plain = drizzle({ client: pool, schema });
      const prepared = plain
        .select()
        .from(users)
        .where(eq(users.id, sql.placeholder("id")))
        .prepare("plain_1");
      await expect(prepared.$cached({ id: 1 })).rejects.toBeInstanceOf(CacheNotConfiguredError);
      await expect(plain.execute(sql`select 1`).$cached()).rejects.toBeInstanceOf(CacheNotConfiguredError);
    } finally {
      await pool.end();
    }
  });
});

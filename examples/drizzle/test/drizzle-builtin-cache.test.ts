// What Drizzle's own cache API and a plain TTL cache do in the situations PGCacheWatch is built
// for. These are the statements behind the comparison table in the repository README; the
// PGCacheWatch side of each is covered by app.test.ts here and by packages/drizzle's tests.
// This file deliberately does not import @pgcachewatch/drizzle.
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { eq, getTableName, inArray, is, Table } from "drizzle-orm";
import type { MutationOption } from "drizzle-orm/cache/core";
import { Cache } from "drizzle-orm/cache/core";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { posts, users } from "../src/schema.js";
import { setupDatabase } from "../src/setup.js";

/**
 * Drizzle's cache contract with the semantics of the store drizzle-orm ships (UpstashCache), kept
 * in memory: entries are stored with the tables Drizzle reports, and `onMutate` drops the entries
 * of the tables a Drizzle write names. Expiry is left out: every check here happens well within
 * any TTL.
 */
class ReferenceDrizzleCache extends Cache {
  readonly entries = new Map<string, { value: unknown; tables: readonly string[] }>();

  override strategy(): "explicit" {
    return "explicit";
  }

  override async get(key: string): Promise<unknown[] | undefined> {
    return this.entries.get(key)?.value as unknown[] | undefined;
  }

  override async put(key: string, response: unknown, tables: string[]): Promise<void> {
    this.entries.set(key, { value: response, tables });
  }

  override async onMutate(params: MutationOption): Promise<void> {
    const raw =
      params.tables === undefined ? [] : Array.isArray(params.tables) ? params.tables : [params.tables];
    const names = new Set(raw.map((t) => (is(t, Table) ? getTableName(t) : String(t))));
    for (const [key, entry] of this.entries)
      if (entry.tables.some((t) => names.has(t))) this.entries.delete(key);
  }
}

const db = useTestDatabase("example_drizzle_builtin_cache");
let pool: pg.Pool;
let writer: pg.Client;

beforeAll(async () => {
  await setupDatabase(db.url);
  pool = new pg.Pool({ connectionString: db.url });
  writer = await db.externalWriter();
});

afterAll(async () => {
  await pool?.end();
});

function drizzleWithBuiltinCache() {
  const cache = new ReferenceDrizzleCache();
  return { cache, orm: drizzle({ client: pool, cache }) };
}

const titleOf = (orm: ReturnType<typeof drizzleWithBuiltinCache>["orm"], id: number) =>
  orm.select({ title: posts.title }).from(posts).where(eq(posts.id, id)).$withCache();

test("Drizzle's cache: a write by another client is not seen; the stale row is served", async () => {
  const { orm } = drizzleWithBuiltinCache();
  expect(await titleOf(orm, 1)).toEqual([{ title: "Notes on the Analytical Engine" }]);
  await writer.query("UPDATE posts SET title = 'Changed elsewhere' WHERE id = 1");
  expect(await titleOf(orm, 1)).toEqual([{ title: "Notes on the Analytical Engine" }]);
  await writer.query("UPDATE posts SET title = 'Notes on the Analytical Engine' WHERE id = 1");
});

test("Drizzle's cache: a read inside a rolled-back transaction fills the shared cache with rows that never existed", async () => {
  const { orm } = drizzleWithBuiltinCache();
  await orm
    .transaction(async (tx) => {
      await tx.update(posts).set({ title: "Uncommitted" }).where(eq(posts.id, 2));
      await tx.select({ title: posts.title }).from(posts).where(eq(posts.id, 2)).$withCache();
      tx.rollback();
    })
    .catch(() => {});
  // Outside the transaction, after the rollback: the cache answers with the uncommitted title.
  expect(await titleOf(orm, 2)).toEqual([{ title: "Uncommitted" }]);
  const { rows } = await writer.query("SELECT title FROM posts WHERE id = 2");
  expect(rows).toEqual([{ title: "The first bug" }]);
});

test("Drizzle's cache: a table read only in a WHERE subquery is not tracked; a Drizzle write to it leaves the entry stale", async () => {
  const { orm, cache } = drizzleWithBuiltinCache();
  const postsByAda = () =>
    orm
      .select({ id: posts.id })
      .from(posts)
      .where(
        inArray(
          posts.authorId,
          orm.select({ id: users.id }).from(users).where(eq(users.name, "Ada Lovelace")),
        ),
      )
      .$withCache();
  expect(await postsByAda()).toEqual([{ id: 1 }]);
  expect([...cache.entries.values()].map((e) => e.tables)).toEqual([["posts"]]);
  await orm.update(users).set({ name: "Ada King" }).where(eq(users.id, 1));
  expect(await postsByAda()).toEqual([{ id: 1 }]);
  const fresh = await orm
    .select({ id: posts.id })
    .from(posts)
    .where(
      inArray(posts.authorId, orm.select({ id: users.id }).from(users).where(eq(users.name, "Ada Lovelace"))),
    );
  expect(fresh).toEqual([]);
  await writer.query("UPDATE users SET name = 'Ada Lovelace' WHERE id = 1");
});

test("Drizzle's cache: relational queries never consult it", async () => {
  const cache = new ReferenceDrizzleCache();
  const orm = drizzle({ client: pool, cache, schema: { users, posts } });
  await orm.query.users.findMany();
  await orm.query.users.findMany();
  expect(cache.entries.size).toBe(0);
});

test("a TTL cache: another client's write stays invisible until the entry expires", async () => {
  const ttlMs = 60_000;
  const entries = new Map<number, { value: string; expiresAt: number }>();
  const cachedTitle = async (id: number) => {
    const hit = entries.get(id);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    const { rows } = await pool.query<{ title: string }>("SELECT title FROM posts WHERE id = $1", [id]);
    entries.set(id, { value: rows[0]!.title, expiresAt: Date.now() + ttlMs });
    return rows[0]!.title;
  };
  expect(await cachedTitle(3)).toBe("Go To Statement Considered Harmful");
  await writer.query("UPDATE posts SET title = 'On GOTO' WHERE id = 3");
  expect(await cachedTitle(3)).toBe("Go To Statement Considered Harmful");
  await writer.query("UPDATE posts SET title = 'Go To Statement Considered Harmful' WHERE id = 3");
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { count, eq, exists, inArray, like, lt, sql } from "drizzle-orm";
import { alias, union } from "drizzle-orm/pg-core";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  changeOf,
  createSchema,
  type Db,
  type Harness,
  openHarness,
  storedDependencies,
} from "./support/harness.js";
import { activeAuthors, auditLog, comments, posts, users } from "./support/schema.js";

const fixture = useTestDatabase("drizzle-shapes");
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

interface Cacheable {
  $cached(options?: { tables?: readonly string[] }): Promise<unknown>;
  then: PromiseLike<unknown>["then"];
}

interface Shape {
  readonly name: string;
  readonly build: (db: Db) => Cacheable;
  /** The tables the stored entry must depend on (sorted `schema.table`), from the statement that ran. */
  readonly tables: readonly string[];
  /** An external write that changes the query's result, and the table it touches. */
  readonly write: { readonly table: string; readonly sql: string };
}

const author = alias(users, "author");

const shapes: readonly Shape[] = [
  {
    name: "select with where, orderBy, limit and $dynamic()",
    build: (db) => db.select().from(users).$dynamic().where(lt(users.id, 100)).orderBy(users.id).limit(10),
    tables: ["public.users"],
    write: { table: "public.users", sql: "update users set name = name || '!' where id = 1" },
  },
  {
    name: "inner join",
    build: (db) =>
      db
        .select({ title: posts.title, author: users.name })
        .from(posts)
        .innerJoin(users, eq(posts.authorId, users.id))
        .orderBy(posts.id),
    tables: ["public.posts", "public.users"],
    write: { table: "public.users", sql: "update users set name = 'bobby' where id = 2" },
  },
  {
    name: "join whose table appears only in the join clause",
    build: (db) => db.select({ n: count() }).from(users).innerJoin(posts, sql`true`),
    tables: ["public.posts", "public.users"],
    write: { table: "public.posts", sql: "insert into posts (author_id, title) values (1, 'w-join')" },
  },
  {
    name: "self-join through an alias",
    build: (db) =>
      db
        .select({ name: users.name, again: author.name })
        .from(users)
        .innerJoin(author, eq(author.id, users.id))
        .orderBy(users.id),
    tables: ["public.users"],
    write: { table: "public.users", sql: "update users set name = 'cyd' where id = 3" },
  },
  {
    name: "subquery in FROM",
    build: (db) => {
      const titles = db.select({ title: posts.title }).from(posts).as("titles");
      return db.select().from(titles).orderBy(titles.title);
    },
    tables: ["public.posts"],
    write: { table: "public.posts", sql: "insert into posts (author_id, title) values (2, 'w-from')" },
  },
  {
    name: "subquery in WHERE (inArray)",
    build: (db) =>
      db
        .select({ name: users.name })
        .from(users)
        .where(
          inArray(
            users.id,
            db.select({ id: posts.authorId }).from(posts).where(like(posts.title, "w-where%")),
          ),
        )
        .orderBy(users.id),
    tables: ["public.posts", "public.users"],
    write: { table: "public.posts", sql: "insert into posts (author_id, title) values (3, 'w-where')" },
  },
  {
    name: "subquery in SELECT",
    build: (db) =>
      db
        .select({
          id: users.id,
          comments: sql<number>`(${db.select({ n: count() }).from(comments)})`.mapWith(Number),
        })
        .from(users)
        .orderBy(users.id),
    tables: ["public.comments", "public.users"],
    write: { table: "public.comments", sql: "insert into comments (post_id, body) values (1, 'w-select')" },
  },
  {
    name: "exists() with a builder",
    build: (db) =>
      db
        .select({ name: users.name })
        .from(users)
        .where(
          exists(
            db
              .select()
              .from(posts)
              .where(sql`${posts.authorId} = ${users.id} and ${posts.title} = 'w-exists'`),
          ),
        )
        .orderBy(users.id),
    tables: ["public.posts", "public.users"],
    write: { table: "public.posts", sql: "insert into posts (author_id, title) values (2, 'w-exists')" },
  },
  {
    name: "table interpolated into a sql`` template",
    build: (db) =>
      db
        .select({ name: users.name })
        .from(users)
        .where(
          sql`exists (select 1 from ${auditLog} where ${auditLog.userId} = ${users.id} and ${auditLog.action} = 'w-sql')`,
        ),
    tables: ["audit.log", "public.users"],
    write: { table: "audit.log", sql: "insert into audit.log (user_id, action) values (3, 'w-sql')" },
  },
  {
    name: "CTE via db.with()",
    build: (db) => {
      const discussed = db
        .$with("discussed")
        .as(
          db
            .select({ title: posts.title, body: comments.body })
            .from(posts)
            .innerJoin(comments, eq(comments.postId, posts.id)),
        );
      return db.with(discussed).select().from(discussed).orderBy(discussed.title, discussed.body);
    },
    tables: ["public.comments", "public.posts"],
    write: { table: "public.comments", sql: "insert into comments (post_id, body) values (2, 'w-cte')" },
  },
  {
    name: "view declared with a query",
    build: (db) => db.select().from(activeAuthors).orderBy(activeAuthors.id),
    tables: ["public.posts", "public.users"],
    write: { table: "public.posts", sql: "insert into posts (author_id, title) values (4, 'w-view')" },
  },
  {
    name: "set operation (union), right side on a pgSchema table",
    build: (db) =>
      union(
        db.select({ id: users.id }).from(users),
        db.select({ id: auditLog.userId }).from(auditLog),
      ).orderBy(sql`1`),
    tables: ["audit.log", "public.users"],
    write: { table: "audit.log", sql: "insert into audit.log (user_id, action) values (1000, 'w-union')" },
  },
  {
    name: "pgSchema table",
    build: (db) => db.select().from(auditLog).orderBy(auditLog.id),
    tables: ["audit.log"],
    write: { table: "audit.log", sql: "insert into audit.log (user_id, action) values (2, 'w-schema')" },
  },
  {
    name: "relational query with nested with",
    build: (db) =>
      db.query.users.findMany({
        orderBy: users.id,
        with: {
          posts: { orderBy: posts.id, with: { comments: { orderBy: comments.id } } },
          auditEntries: true,
        },
      }),
    tables: ["audit.log", "public.comments", "public.posts", "public.users"],
    write: {
      table: "public.comments",
      sql: "insert into comments (post_id, body) values (1, 'w-relational')",
    },
  },
  {
    name: "relational findFirst with a one() relation",
    build: (db) => db.query.posts.findFirst({ where: eq(posts.id, 3), with: { author: true } }),
    tables: ["public.posts", "public.users"],
    write: { table: "public.users", sql: "update users set name = 'bob2' where id = 2" },
  },
];

describe.each(shapes)("$name", (shape) => {
  test("depends on every table, misses, hits, and is fresh after an external write", async () => {
    const { db, watch } = harness;
    const derived = await storedDependencies(watch, () => shape.build(db).$cached());
    console.log(`[derived] ${shape.name}: ${derived ? derived.join(", ") : "not cached"}`);
    expect(derived).toEqual(shape.tables);

    const before = watch.stats();
    const first = await shape.build(db).$cached();
    const second = await shape.build(db).$cached();
    const afterHit = watch.stats();
    expect(afterHit.misses - before.misses).toBe(1);
    expect(afterHit.hits - before.hits).toBe(1);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);

    const changed = changeOf(watch, shape.write.table);
    await writer.query(shape.write.sql);
    await changed;

    const third = await shape.build(db).$cached();
    expect(watch.stats().misses - afterHit.misses).toBe(1);
    expect(third).not.toEqual(first);
    expect(third).toEqual(await shape.build(db));
  });
});

describe("raw SQL text naming a table", () => {
  const build = (db: Db) =>
    db
      .select({ id: users.id, total: sql<number>`(select count(*) from comments)`.mapWith(Number) })
      .from(users)
      .orderBy(users.id);

  test("is cached with the table PostgreSQL's parser finds in the text, and fresh after a write to it", async () => {
    const { db, watch } = harness;
    const derived = await storedDependencies(watch, () => build(db).$cached());
    console.log(`[derived] raw SQL text: ${derived ? derived.join(", ") : "not cached"}`);
    expect(derived).toEqual(["public.comments", "public.users"]);
    const first = await build(db).$cached();
    const before = watch.stats();
    expect(await build(db).$cached()).toEqual(first);
    expect(watch.stats().hits - before.hits).toBe(1);
    const changed = changeOf(watch, "public.comments");
    await writer.query("insert into comments (post_id, body) values (3, 'w-raw-text')");
    await changed;
    const fresh = await build(db).$cached();
    expect(fresh).not.toEqual(first);
    expect(fresh).toEqual(await build(db));
  });

  test("`tables` adds dependencies, invalidated by writes to them", async () => {
    const { db, watch } = harness;
    const first = await build(db).$cached({ tables: ["audit.log"] });
    const before = watch.stats();
    expect(await build(db).$cached({ tables: ["audit.log"] })).toEqual(first);
    expect(watch.stats().hits - before.hits).toBe(1);
    const changed = changeOf(watch, "audit.log");
    await writer.query("insert into audit.log (user_id, action) values (3, 'w-raw')");
    await changed;
    await build(db).$cached({ tables: ["audit.log"] });
    expect(watch.stats().misses - before.misses).toBe(1);
  });
});

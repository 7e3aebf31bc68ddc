import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { eq, type SQL, sql } from "drizzle-orm";
import { integer, pgTable, pgTableCreator, pgView, serial, text } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  createSchema,
  type Harness,
  openHarness,
  SCHEMA_TABLES,
  storedDependencies,
} from "./support/harness.js";
import { comments, legacyView, postCounts, posts, users } from "./support/schema.js";

// What a cached read depends on is decided from the statement that ran, by PostgreSQL's parser and
// the catalog: raw SQL text inside sql`` templates, views however they were declared, functions.
const fixture = useTestDatabase("drizzle-statement-dependencies");
let harness: Harness;

const owners = pgTable("owners", { id: serial("id").primaryKey(), name: text("name").notNull() });
const pets = pgTable("pets", { id: serial("id").primaryKey(), ownerId: integer("owner_id").notNull() });
const petOwners = pgView("pet_owners").as((qb) =>
  qb.select({ id: owners.id, name: owners.name }).from(owners).innerJoin(pets, eq(pets.ownerId, owners.id)),
);
const everyPairing = pgView("every_pairing").as((qb) =>
  qb.select({ id: owners.id }).from(owners).innerJoin(pets, sql`true`),
);
const accounts = pgTableCreator((name) => `app_${name}`)("accounts", {
  id: serial("id").primaryKey(),
  ownerId: integer("owner_id"),
});

const CANDIDATES = [
  ...SCHEMA_TABLES,
  "public.orders",
  "public.Orders",
  "public.owners",
  "public.pets",
  "public.app_accounts",
];

beforeAll(async () => {
  await createSchema(fixture);
  const client = new pg.Client({ connectionString: fixture.url });
  await client.connect();
  await client.query(`
    create table orders (id serial primary key, total integer);
    create table "Orders" (id serial primary key);
    create table owners (id serial primary key, name text not null);
    create table pets (id serial primary key, owner_id integer not null);
    create table app_accounts (id serial primary key, owner_id integer);
    create view pet_owners as select owners.id, owners.name from owners inner join pets on pets.owner_id = owners.id;
    create view every_pairing as select owners.id from owners inner join pets on true;
    create function user_orders(integer) returns setof orders language sql as 'select * from orders where id = $1';
  `);
  await client.end();
  harness = await openHarness(fixture, { source: "none" });
});
afterAll(async () => {
  await harness?.close();
});

const depends = (read: () => Promise<unknown>) => storedDependencies(harness.watch, read, CANDIDATES);
const whereOnUsers = (where: SQL) => () => harness.db.select().from(users).where(where).$cached();

describe("raw SQL text inside sql`` templates", () => {
  test.each([
    [
      "a column in extract(... from ...)",
      sql`extract(year from ${users.createdAt}) > 2000`,
      ["public.users"],
    ],
    ["is distinct from", sql`${users.name} is distinct from ${users.id}::text`, ["public.users"]],
    ["'from orders' inside a string literal", sql`${users.name} <> 'select * from orders'`, ["public.users"]],
    ["a line comment", sql`${users.id} > 0 -- join orders`, ["public.users"]],
    ["a block comment", sql`${users.id} > 0 /* from orders /* nested */ */`, ["public.users"]],
    ["a dollar-quoted literal", sql`${users.name} <> $q$ from orders $q$`, ["public.users"]],
    ["an E'' literal with an escaped quote", sql`${users.name} <> E'it\\'s from orders'`, ["public.users"]],
    [
      "a table-free set-returning function",
      sql`${users.id} in (select g from generate_series(1, 3) g)`,
      ["public.users"],
    ],
    [
      "a raw name of a table the query also holds",
      sql`exists (select 1 from posts where posts.author_id = ${users.id}) and ${users.id} is not null`,
      ["public.posts", "public.users"],
    ],
    // Not cached before (a relation named only as text); now found by the parser.
    ["a table named only in text", sql`exists (select 1 from orders)`, ["public.orders", "public.users"]],
    [
      "a table named with sql.identifier()",
      sql`exists (select 1 from ${sql.identifier("orders")})`,
      ["public.orders", "public.users"],
    ],
    [
      "a comma join in text",
      sql`exists (select 1 from ${posts}, orders)`,
      ["public.orders", "public.posts", "public.users"],
    ],
    [
      "a join in text",
      sql`exists (select 1 from ${posts} join orders on true)`,
      ["public.orders", "public.posts", "public.users"],
    ],
    [
      "a schema-qualified name in text",
      sql`exists (select 1 from public.posts)`,
      ["public.posts", "public.users"],
    ],
    ["a quoted name in text", sql`exists (select 1 from "Orders")`, ["public.Orders", "public.users"]],
  ])("%s", async (_label, where, tables) => {
    expect(await depends(whereOnUsers(where))).toEqual(tables);
  });

  test("a CTE referenced by name in text", async () => {
    const { db } = harness;
    const recent = db.$with("recent").as(db.select({ id: posts.authorId }).from(posts));
    expect(
      await depends(() =>
        db.with(recent).select().from(users).where(sql`${users.id} in (select id from recent)`).$cached(),
      ),
    ).toEqual(["public.posts", "public.users"]);
  });

  test("a whole FROM given as sql`` text", async () => {
    const { db } = harness;
    expect(await depends(() => db.select({ n: sql`count(*)` }).from(sql`orders`).$cached())).toEqual([
      "public.orders",
    ]);
  });

  test("a user function in FROM is opaque: not cached, unless its tables are named", async () => {
    const { db, watch } = harness;
    const read = (tables?: string[]) =>
      db
        .select()
        .from(users)
        .where(sql`exists (select 1 from user_orders(${users.id}))`)
        .$cached(tables ? { tables } : undefined);
    const before = watch.stats();
    expect(await depends(() => read())).toBeUndefined();
    expect(watch.stats().fillsUncacheable - before.fillsUncacheable).toBe(1);
    expect(await depends(() => read(["orders"]))).toEqual(["public.orders", "public.users"]);
  });
});

describe("statements that write are not stored", () => {
  test("a data-modifying CTE", async () => {
    const { db } = harness;
    const inserted = db.$with("inserted").as(db.insert(users).values({ name: "x" }).returning());
    expect(await depends(() => db.with(inserted).select().from(inserted).$cached())).toBeUndefined();
  });

  test("a locking clause takes its locks on every call", async () => {
    const { db } = harness;
    const locked = await depends(() => db.select().from(users).for("update").$cached());
    console.log(`[derived] select ... for update: ${locked ? locked.join(", ") : "not cached"}`);
    expect(locked).toBeUndefined();
  });
});

describe("views and other relations", () => {
  test("a view declared with .existing() stands for its base tables (the catalog knows its query)", async () => {
    expect(await depends(() => harness.db.select().from(legacyView).$cached())).toEqual(["public.users"]);
  });

  test("a materialized view (REFRESH sends no change event) is not cached", async () => {
    expect(await depends(() => harness.db.select().from(postCounts).$cached())).toBeUndefined();
  });

  test("views declared in any module order, whatever their join clauses", async () => {
    const { db } = harness;
    expect(await depends(() => db.select().from(petOwners).$cached())).toEqual([
      "public.owners",
      "public.pets",
    ]);
    expect(await depends(() => db.select().from(everyPairing).$cached())).toEqual([
      "public.owners",
      "public.pets",
    ]);
  });

  test("a table from pgTableCreator is named as in the database", async () => {
    const { db } = harness;
    expect(
      await depends(() =>
        db.select().from(accounts).innerJoin(users, eq(users.id, accounts.ownerId)).$cached(),
      ),
    ).toEqual(["public.app_accounts", "public.users"]);
  });

  test("a relational query with a where callback and extras", async () => {
    const { db } = harness;
    const query = () =>
      db.query.posts
        .findMany({
          where: (post, { exists }) => exists(db.select().from(comments).where(eq(comments.postId, post.id))),
          extras: { upper: sql<string>`upper(${posts.title})`.as("upper") },
          with: { author: { columns: { name: true } } },
        })
        .$cached();
    expect(await depends(query)).toEqual(["public.comments", "public.posts", "public.users"]);
  });
});

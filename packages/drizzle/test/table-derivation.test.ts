import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTableCreator, serial } from "drizzle-orm/pg-core";
import { describe, expect, test } from "vitest";
import { deriveTables, type TableDerivation } from "../src/index.js";
import { tableNames } from "./support/harness.js";
import { comments, legacyView, postCounts, posts, schema, users } from "./support/schema.js";

// Pure derivation: no database needed, the queries are only rendered.
const db = drizzle.mock({ schema });

function derived(query: unknown): string[] | string {
  const result: TableDerivation = deriveTables(query);
  return result.known ? tableNames(result.tables) : `unknown: ${result.reason}`;
}

describe("raw SQL text inside sql`` templates", () => {
  const withWhere = (where: ReturnType<typeof sql>) => db.select().from(users).where(where);

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
      sql`exists (select 1 from posts where posts.author_id = ${users.id}) and ${posts.id} is not null`,
      ["public.posts", "public.users"],
    ],
  ])("known: %s", (_label, where, tables) => {
    expect(derived(withWhere(where))).toEqual(tables);
  });

  test.each([
    ["a table named only in text", sql`exists (select 1 from orders)`, "relation orders"],
    [
      "a table named with sql.identifier()",
      sql`exists (select 1 from ${sql.identifier("orders")})`,
      "relation orders",
    ],
    ["a comma join in text", sql`exists (select 1 from ${posts}, orders)`, "relation orders"],
    ["a join in text", sql`exists (select 1 from ${posts} join orders on true)`, "relation orders"],
    ["a schema-qualified name in text", sql`exists (select 1 from public.posts)`, "relation public.posts"],
    ["a quoted name in text", sql`exists (select 1 from "Orders")`, "relation Orders"],
    ["a user function in FROM", sql`exists (select 1 from user_orders(${users.id}))`, "function user_orders"],
    ["two statements", sql`true; select 1`, "several statements"],
  ])("unknown: %s", (_label, where, reason) => {
    expect(derived(withWhere(where))).toContain(reason);
  });

  test("a CTE referenced by name in text is known", () => {
    const recent = db.$with("recent").as(db.select({ id: posts.authorId }).from(posts));
    const query = db.with(recent).select().from(users).where(sql`${users.id} in (select id from recent)`);
    expect(derived(query)).toEqual(["public.posts", "public.users"]);
  });

  test("a whole FROM given as sql`` text is unknown", () => {
    expect(derived(db.select({ n: sql`count(*)` }).from(sql`orders`))).toContain("relation orders");
  });
});

describe("statements that write are flagged", () => {
  test("a data-modifying CTE", () => {
    const inserted = db.$with("inserted").as(db.insert(users).values({ name: "x" }).returning());
    const result = deriveTables(db.with(inserted).select().from(inserted));
    expect(result.writes).toBe(true);
  });

  test("raw INSERT text", () => {
    expect(
      deriveTables(db.select().from(users).where(sql`exists (insert into posts default values returning 1)`))
        .writes,
    ).toBe(true);
  });

  test("a locking clause is not a write", () => {
    expect(deriveTables(db.select().from(users).for("update")).writes).toBe(false);
    expect(deriveTables(db.select().from(users).for("no key update")).writes).toBe(false);
  });
});

describe("relations that cannot be followed", () => {
  test("a view declared with .existing()", () => {
    expect(derived(db.select().from(legacyView))).toContain("view legacy_view was declared with .existing()");
  });

  test("a materialized view (REFRESH sends no change event)", () => {
    expect(derived(db.select().from(postCounts))).toContain("materialized view post_counts");
  });
});

test("a table from pgTableCreator is named as in the database", () => {
  const table = pgTableCreator((name) => `app_${name}`)("accounts", {
    id: serial("id").primaryKey(),
    ownerId: integer("owner_id"),
  });
  expect(derived(db.select().from(table).innerJoin(users, eq(users.id, table.ownerId)))).toEqual([
    "public.app_accounts",
    "public.users",
  ]);
});

test("a relational query with a where callback and extras", () => {
  const query = db.query.posts.findMany({
    where: (post, { exists }) => exists(db.select().from(comments).where(eq(comments.postId, post.id))),
    extras: { upper: sql<string>`upper(${posts.title})`.as("upper") },
    with: { author: { columns: { name: true } } },
  });
  expect(derived(query)).toEqual(["public.comments", "public.posts", "public.users"]);
});

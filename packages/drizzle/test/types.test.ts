import { createCacheWatch, type TableInput } from "@pgcachewatch/core";
import { count, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { alias, union } from "drizzle-orm/pg-core";
import { describe, expect, expectTypeOf, test } from "vitest";
import { type CachedQueryOptions, pgCacheWatchCache } from "../src/index.js";
import { activeAuthors, auditLog, posts, schema, users } from "./support/schema.js";

// Type-level tests: `pnpm typecheck` (tsc over src and test) fails if $cached() changes a result type.
const db = drizzle.mock({ schema, cache: pgCacheWatchCache(createCacheWatch({ source: "none" })) });

describe("$cached() keeps the query's exact result type", () => {
  test("select builders", () => {
    const all = db.select().from(users).where(eq(users.id, 1)).orderBy(users.id).limit(5);
    expectTypeOf(all.$cached).returns.toEqualTypeOf<Promise<Awaited<typeof all>>>();
    expectTypeOf(all.$cached).returns.resolves.toEqualTypeOf<
      { id: number; name: string; profile: { tags: string[] } | null; createdAt: Date }[]
    >();

    const partial = db.select({ id: users.id, total: sql<number>`count(*)` }).from(users).groupBy(users.id);
    expectTypeOf(partial.$cached).returns.resolves.toEqualTypeOf<{ id: number; total: number }[]>();

    const joined = db.select().from(posts).leftJoin(users, eq(posts.authorId, users.id));
    expectTypeOf(joined.$cached).returns.toEqualTypeOf<Promise<Awaited<typeof joined>>>();
    expectTypeOf(joined.$cached).returns.resolves.items.toHaveProperty("users").toEqualTypeOf<{
      id: number;
      name: string;
      profile: { tags: string[] } | null;
      createdAt: Date;
    } | null>();

    const author = alias(users, "author");
    const selfJoin = db
      .select({ name: users.name, other: author.name })
      .from(users)
      .innerJoin(author, eq(author.id, users.id));
    expectTypeOf(selfJoin.$cached).returns.resolves.toEqualTypeOf<{ name: string; other: string }[]>();

    const dynamic = db.select({ n: count() }).from(auditLog).$dynamic();
    expectTypeOf(dynamic.$cached).returns.resolves.toEqualTypeOf<{ n: number }[]>();

    const view = db.select().from(activeAuthors);
    expectTypeOf(view.$cached).returns.resolves.toEqualTypeOf<{ id: number; name: string }[]>();

    const unioned = union(db.select({ id: users.id }).from(users), db.select({ id: posts.id }).from(posts));
    expectTypeOf(unioned.$cached).returns.resolves.toEqualTypeOf<{ id: number }[]>();

    expect(typeof all.$cached).toBe("function");
  });

  test("relational queries", () => {
    const many = db.query.users.findMany({ with: { posts: { with: { comments: true } } } });
    expectTypeOf(many.$cached).returns.toEqualTypeOf<Promise<Awaited<typeof many>>>();
    expectTypeOf(many.$cached)
      .returns.resolves.items.toHaveProperty("posts")
      .items.toHaveProperty("comments")
      .items.toEqualTypeOf<{
        id: number;
        postId: number;
        body: string;
      }>();

    const first = db.query.posts.findFirst({ with: { author: true } });
    expectTypeOf(first.$cached).returns.toEqualTypeOf<Promise<Awaited<typeof first>>>();
    expectTypeOf(first.$cached).returns.resolves.toBeNullable();

    expect(typeof many.$cached).toBe("function");
  });

  test("raw SQL: db.execute(sql...).$cached()", () => {
    const raw = db.execute<{ id: number; name: string }>(sql`select id, name from users`);
    expectTypeOf(raw.$cached).returns.toEqualTypeOf<Promise<Awaited<typeof raw>>>();
    expectTypeOf(raw.$cached)
      .returns.resolves.toHaveProperty("rows")
      .toEqualTypeOf<{ id: number; name: string }[]>();
    expectTypeOf(raw.$cached).parameter(0).toEqualTypeOf<CachedQueryOptions | undefined>();
    expect(typeof raw.$cached).toBe("function");
  });

  test("prepared statements: .prepare(name).$cached(values, options)", () => {
    const byId = db
      .select({ id: users.id, name: users.name })
      .from(users)
      .where(eq(users.id, sql.placeholder("id")))
      .prepare("types_by_id");
    expectTypeOf(byId.$cached).returns.toEqualTypeOf<ReturnType<typeof byId.execute>>();
    expectTypeOf(byId.$cached).returns.resolves.toEqualTypeOf<{ id: number; name: string }[]>();
    expectTypeOf(byId.$cached).parameter(0).toEqualTypeOf<Record<string, unknown> | undefined>();
    expectTypeOf(byId.$cached).parameter(1).toEqualTypeOf<CachedQueryOptions | undefined>();

    const relational = db.query.posts.findFirst({ with: { author: true } }).prepare("types_post");
    expectTypeOf(relational.$cached).returns.toEqualTypeOf<ReturnType<typeof relational.execute>>();
    expectTypeOf(relational.$cached).returns.resolves.toBeNullable();
    expect(typeof byId.$cached).toBe("function");
  });

  test("options", () => {
    expectTypeOf<CachedQueryOptions>().toEqualTypeOf<{
      readonly ttl?: number;
      readonly tag?: string | readonly string[];
      readonly tables?: readonly TableInput[];
      readonly scope?: string;
      readonly signal?: AbortSignal;
    }>();
    expectTypeOf<CachedQueryOptions>().toMatchTypeOf<{ ttl?: number; tag?: string | readonly string[] }>();
    expectTypeOf(db.select().from(users).$cached)
      .parameter(0)
      .toEqualTypeOf<CachedQueryOptions | undefined>();
    // @ts-expect-error ttl is a number of milliseconds
    const wrongTtl = () => db.select().from(users).$cached({ ttl: "1m" });
    expect(typeof wrongTtl).toBe("function");
  });
});

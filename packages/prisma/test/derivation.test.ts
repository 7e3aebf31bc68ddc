import { createCacheWatch, uninstallTriggers } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgCacheWatch } from "../src/index.js";
import { ModelGraph } from "../src/model-graph.js";
import { readRuntimeDataModel } from "../src/prisma-internals.js";
import { queryKey } from "../src/query-key.js";
import { tablesInSql } from "../src/sql-observer.js";
import { deriveMutationTables, deriveTables } from "../src/table-derivation.js";
import { PrismaClient, Prisma as PrismaNamespace } from "./generated/client/client.js";
import {
  expectInvalidation,
  openPrismaFixture,
  type PrismaFixture,
  statsDelta,
} from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_derivation");
let fx: PrismaFixture;
let graph: ModelGraph;

beforeAll(async () => {
  fx = await openPrismaFixture(db);
  graph = new ModelGraph(readRuntimeDataModel(fx.base), "public");
});
beforeEach(async () => {
  await fx.settle();
});
afterAll(async () => {
  await fx?.close();
});

const names = (tables: { toArray(): { schema: string; table: string }[] } | undefined) =>
  tables
    ?.toArray()
    .map((t) => `${t.schema}.${t.table}`)
    .sort();

describe("table derivation from the runtime data model and the arguments", () => {
  it("maps models to their database tables (@@map, @@schema, unmapped names keep their case)", () => {
    expect(names(deriveTables(graph, "User", {}))).toEqual(["public.users"]);
    expect(names(deriveTables(graph, "Tag", undefined))).toEqual(["public.Tag"]);
    expect(names(deriveTables(graph, "Profile", { where: { bio: "x" } }))).toEqual(["audit.Profile"]);
    expect(names(deriveTables(graph, "Measurement", { where: { data: { equals: { posts: 1 } } } }))).toEqual([
      "audit.measurements",
    ]);
  });

  it("follows include, select, _count, orderBy and relation filters, with join tables for m-n", () => {
    expect(names(deriveTables(graph, "Post", { include: { tags: true } }))).toEqual([
      "public.Tag",
      "public._PostToTag",
      "public.posts",
    ]);
    expect(names(deriveTables(graph, "User", { select: { _count: { select: { posts: true } } } }))).toContain(
      "public.posts",
    );
    expect(names(deriveTables(graph, "Post", { orderBy: { author: { email: "asc" } } }))).toContain(
      "public.users",
    );
    expect(
      names(
        deriveTables(graph, "User", {
          where: { AND: [{ profile: { is: { bio: "x" } } }, { posts: { none: {} } }] },
        }),
      ),
    ).toEqual(expect.arrayContaining(["audit.Profile", "public.posts", "public.users"]));
    expect(names(deriveTables(graph, "User", { include: { _count: true } }))).toEqual(
      expect.arrayContaining(["audit.Profile", "public.posts", "public.users"]),
    );
    // Counting rows is not counting relations.
    expect(names(deriveTables(graph, "User", { _count: true }))).toEqual(["public.users"]);
    // A relation switched off reads nothing.
    expect(names(deriveTables(graph, "User", { include: { posts: false } }))).toEqual(["public.users"]);
  });

  it("does not cache what it cannot understand", () => {
    expect(deriveTables(graph, "Nope", {})).toBeUndefined();
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100; i++) {
      const next = {};
      deep.AND = next;
      deep = next;
    }
    expect(deriveTables(graph, "User", { where: root })).toBeUndefined();
    expect(queryKey("", "User", "findMany", { where: { id: Symbol("x") } })).toBeUndefined();
    expect(queryKey("", "User", "findMany", { where: { at: new (class Opaque {})() } })).toBeUndefined();
  });

  it("mutations that change or delete rows also cover tables one relation away", () => {
    expect(names(deriveMutationTables(graph, "Tag", "create", { data: { name: "x" } }))).toEqual([
      "public.Tag",
    ]);
    expect(names(deriveMutationTables(graph, "User", "delete", { where: { id: 1 } }))).toEqual(
      expect.arrayContaining(["audit.Profile", "public.posts", "public.users"]),
    );
  });

  it("keys tell apart values that JSON would confuse", () => {
    const key = (value: unknown) => queryKey("", "M", "findMany", { where: { v: value } });
    const values = [
      1,
      "1",
      1n,
      new Date(1),
      new PrismaNamespace.Decimal(1),
      Uint8Array.from([1]),
      null,
      PrismaNamespace.DbNull,
    ];
    expect(new Set(values.map(key)).size).toBe(values.length);
    expect(queryKey("a", "M", "findMany", {})).not.toBe(queryKey("b", "M", "findMany", {}));
  });

  it("reads the tables out of Prisma's SQL, whatever the schemas are called, ignoring alias.column pairs", () => {
    const sql = `SELECT "t0"."id" FROM "public"."posts" AS "t0" INNER JOIN "public"."_PostToTag" AS "t1" ON "t1"."A" = "t0"."id" WHERE EXISTS(SELECT "j"."x" FROM "tenant ""a"""."Profile" AS "j" WHERE "j"."id" = $1)`;
    const write = `INSERT INTO "app"."users" ("email") VALUES ($1) RETURNING "app"."users"."id"`;
    const update = `UPDATE "app"."users" SET "x" = $1 WHERE "app"."users"."id" IN (SELECT "t1"."id" FROM "app"."users" AS "t1")`;
    expect(tablesInSql([sql, write, update]).map((t) => `${t.schema}.${t.table}`)).toEqual([
      "public.posts",
      "public._PostToTag",
      'tenant "a".Profile',
      "app.users",
    ]);
  });
});

describe("verification against the SQL the driver adapter ran", () => {
  it("a result whose SQL read a table the derivation missed is not cached; the table is learned", async () => {
    // Simulate a derivation gap: a copy of the data model in which Post.tags points at another join table.
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    const internals = client as unknown as {
      _runtimeDataModel: { models: Record<string, { fields: { name: string; relationName?: string }[] }> };
    };
    const dataModel = structuredClone(internals._runtimeDataModel);
    for (const field of dataModel.models.Post!.fields)
      if (field.name === "tags") field.relationName = "Elsewhere";
    internals._runtimeDataModel = dataModel;
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (message: string) => warnings.push(message) };
    const watch = createCacheWatch({ connectionString: db.url });
    await watch.start();
    const prisma = client.$extends(pgCacheWatch({ watch, logger }));
    try {
      const read = () =>
        prisma.post.findUnique({ where: { id: 1 }, include: { tags: { orderBy: { id: "asc" } } } });
      const first = await statsDelta(watch, read);
      expect(first.misses).toBe(1);
      expect(first.value?.tags).toEqual([expect.objectContaining({ name: "intro" })]);
      expect(warnings).toHaveLength(1);
      // Not kept: the next read loads again, now with the learned join table, and that one is kept.
      expect((await statsDelta(watch, read)).misses).toBe(1);
      expect((await statsDelta(watch, read)).hits).toBe(1);
      await expectInvalidation(watch, "public._PostToTag", () =>
        fx.writer.query(`INSERT INTO public."_PostToTag" ("A", "B") VALUES (1, 2)`),
      );
      const fresh = await statsDelta(watch, read);
      expect(fresh.misses).toBe(1);
      expect(fresh.value?.tags).toHaveLength(2);
      // A write whose SQL touched a table its arguments did not name invalidates it when it completes.
      const joinRows = () =>
        prisma.$queryRawCached(PrismaNamespace.sql`SELECT count(*)::int AS n FROM public."_PostToTag"`, {
          tables: ["_PostToTag"],
        });
      // Without its trigger, only the write's observed SQL can invalidate the join table's entries.
      await uninstallTriggers(fx.writer, { tables: ["_PostToTag"] });
      await joinRows();
      expect((await statsDelta(watch, joinRows)).hits).toBe(1);
      const info = await expectInvalidation(
        watch,
        "public._PostToTag",
        () => prisma.post.update({ where: { id: 1 }, data: { tags: { disconnect: { id: 2 } } } }),
        "manual",
      );
      expect(info.entries).toBe(1);
      expect((await statsDelta(watch, joinRows)).misses).toBe(1);
    } finally {
      await client.$disconnect();
      await watch.stop();
    }
  });
});

import { ExplainNode, sql } from "kysely";
import { describe, expect, it } from "vitest";
import { analyzeQuery } from "../src/index.js";
import { compilingOnly, formatTables, READ_SHAPES, WRITE_SHAPES } from "./support/shapes.js";

// Pure derivation from compiled operation trees (no database): the table lists quoted in the README.
const db = compilingOnly();
const derived: string[] = [];

describe("tables derived from the operation tree", () => {
  it.each(READ_SHAPES.map((shape) => [shape.name, shape] as const))("read: %s", (_name, shape) => {
    const analysis = analyzeQuery(shape.build(db).compile().query);
    expect(formatTables(analysis.tables)).toEqual(shape.tables);
    expect(analysis.writes).toEqual([]);
    expect(analysis.opaque).toBe(shape.opaque ?? false);
    expect(analysis.uncacheable).toBeUndefined();
    derived.push(`read   ${shape.name}: [${shape.tables.join(", ")}]${shape.opaque ? " (opaque)" : ""}`);
  });

  it.each(WRITE_SHAPES.map((shape) => [shape.name, shape] as const))("write: %s", (_name, shape) => {
    const analysis = analyzeQuery(shape.build(db).compile().query);
    expect(formatTables(analysis.tables)).toEqual(shape.tables);
    expect(formatTables(analysis.writes)).toEqual(shape.writes);
    expect(analysis.uncacheable).toBe("write");
    derived.push(
      `write  ${shape.name}: reads [${shape.tables.join(", ")}], writes [${shape.writes.join(", ")}]`,
    );
  });

  it("prints the derived lists", () => {
    console.log(`tables derived per query shape:\n${derived.join("\n")}`);
    expect(derived).toHaveLength(READ_SHAPES.length + WRITE_SHAPES.length);
  });
});

describe("edge cases of derivation", () => {
  const tablesOf = (query: { compile(): { query: Parameters<typeof analyzeQuery>[0] } }) =>
    formatTables(analyzeQuery(query.compile().query).tables);

  it("a CTE hides only unqualified names in its scope; a subquery outside it still reads the table", () => {
    const query = db
      .selectFrom("users")
      .select("id")
      .where("id", "in", (eb) =>
        eb
          .selectFrom(
            db
              .with("posts", (qb) => qb.selectFrom("admins").select("id as user_id"))
              .selectFrom("posts")
              .select("user_id")
              .as("inner"),
          )
          .select("inner.user_id"),
      )
      .where("id", "in", db.selectFrom("posts").select("user_id"));
    expect(tablesOf(query)).toEqual(["users", "admins", "posts"]);
  });

  it("a schema-qualified table with a CTE's name is still a table", () => {
    const query = db
      .with("accounts", (qb) => qb.selectFrom("users").select(["id", "name as owner"]))
      .selectFrom("accounts")
      .innerJoin("app.accounts", "app.accounts.id", "accounts.id")
      .select("app.accounts.owner");
    expect(tablesOf(query)).toEqual(["users", "app.accounts"]);
  });

  it("a non-recursive CTE referring to its own name reads the real table", () => {
    const query = db
      .with("users", (qb) => qb.selectFrom("users").select(["id", "name"]))
      .selectFrom("users")
      .selectAll();
    expect(tablesOf(query)).toEqual(["users"]);
  });

  it("raw fragments: neutral wrappers are seen through, text is opaque, sql.id in FROM is opaque", () => {
    const neutral = db
      .selectFrom("users")
      .select("id")
      .where(sql<boolean>`${sql.ref("users.id")} > ${sql.lit(0)}`);
    expect(analyzeQuery(neutral.compile().query).opaque).toBe(false);
    const worded = db.selectFrom("users").select(sql<number>`count(*)`.as("n"));
    expect(analyzeQuery(worded.compile().query).opaque).toBe(true);
    const identifier = db
      .selectFrom(sql<{ id: number }>`${sql.id("public", "users")}`.as("u"))
      .select("u.id");
    expect(analyzeQuery(identifier.compile().query).opaque).toBe(true);
    expect(tablesOf(identifier)).toEqual([]);
  });

  it("locking reads and EXPLAIN are never served from the cache", () => {
    expect(analyzeQuery(db.selectFrom("users").selectAll().forUpdate().compile().query).uncacheable).toBe(
      "locking",
    );
    expect(
      analyzeQuery(db.selectFrom("users").selectAll().distinct().compile().query).uncacheable,
    ).toBeUndefined();
    const explained = {
      ...db.selectFrom("users").selectAll().toOperationNode(),
      explain: ExplainNode.create(),
    };
    expect(analyzeQuery(explained).uncacheable).toBe("explain");
  });

  it("DDL that changes a relation's contents is a write to it", () => {
    expect(formatTables(analyzeQuery(db.schema.dropTable("archive").compile().query).writes)).toEqual([
      "archive",
    ]);
    const alter = db.schema.alterTable("app.accounts").addColumn("x", "integer").compile();
    expect(formatTables(analyzeQuery(alter.query).writes)).toEqual(["app.accounts"]);
    const refresh = db.schema.refreshMaterializedView("stats").compile();
    expect(formatTables(analyzeQuery(refresh.query).writes)).toEqual(["stats"]);
    expect(
      analyzeQuery(db.schema.createTable("t").addColumn("id", "integer").compile().query).uncacheable,
    ).toBe("not-a-query");
  });

  it("parameters are never walked: a value shaped like a node is data", () => {
    const lookalike = JSON.stringify({ kind: "TableNode", table: { identifier: { name: "secret" } } });
    const query = db.selectFrom("users").select("id").where("name", "=", lookalike);
    expect(tablesOf(query)).toEqual(["users"]);
  });
});

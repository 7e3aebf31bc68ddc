import { beforeAll, describe, expect, it } from "vitest";
import { classifyBuiltin } from "../src/analysis/builtin-functions.js";
import { mentionedTables, SqlParseError } from "../src/analysis/index.js";
import { LruMap } from "../src/analysis/lru-map.js";
import { parseSearchPath } from "../src/analysis/search-path.js";
import { loadSqlParser, parseSql } from "../src/analysis/sql-parser.js";
import { type StatementFacts, statementFacts } from "../src/analysis/statement-facts.js";

// The catalog-free layer: what the text alone says. No database here.

beforeAll(async () => {
  await loadSqlParser();
});

function factsOf(sql: string): StatementFacts {
  const outcome = parseSql(sql);
  if (!outcome.ok) throw new Error(outcome.message);
  return statementFacts(outcome.result.stmts?.[0]?.stmt);
}

const names = (rels: StatementFacts["reads"]) =>
  rels.map((r) => (r.schema === undefined ? r.name : `${r.schema}.${r.name}`)).sort();

describe("statement facts", () => {
  it.each([
    ["WITH t AS (SELECT * FROM a) SELECT * FROM t", ["a"]],
    ["WITH t AS (SELECT * FROM a) SELECT * FROM s.t", ["a", "s.t"]], // qualified: never a CTE
    ["WITH a AS (SELECT * FROM a) SELECT * FROM a", ["a"]], // a plain CTE does not see itself
    ["WITH RECURSIVE a AS (SELECT 1 UNION ALL SELECT * FROM a) SELECT * FROM a", []],
    ["SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x", ["x"]], // a CTE's scope is its statement
    ["SELECT * FROM a WHERE a.id IN (SELECT id FROM b) AND EXISTS (SELECT FROM c)", ["a", "b", "c"]],
    ["SELECT (SELECT max(v) FROM b) FROM a ORDER BY (SELECT 1 FROM c LIMIT 1)", ["a", "b", "c"]],
    ["SELECT * FROM a JOIN LATERAL (SELECT * FROM b WHERE b.x = a.x) l ON true", ["a", "b"]],
    [
      "SELECT 1 FROM a UNION SELECT 1 FROM b EXCEPT (SELECT 1 FROM c INTERSECT SELECT 1 FROM d)",
      ["a", "b", "c", "d"],
    ],
    ['SELECT * FROM "Ünï"."MiXed" JOIN Folded ON true', ["folded", "Ünï.MiXed"]],
    ["VALUES (1), (2)", []],
    ["TABLE a", ["a"]],
  ])("%s reads %j", (sql, reads) => {
    expect(names(factsOf(sql).reads)).toEqual(reads);
  });

  it("write targets are never CTE names; reads of the other clauses are reads", () => {
    const facts = factsOf(
      "WITH a AS (SELECT 1), d AS (DELETE FROM x USING y RETURNING x.id) UPDATE a SET v = 1 FROM d, z",
    );
    expect(names(facts.writes)).toEqual(["a", "x"]);
    expect(names(facts.reads)).toEqual(["y", "z"]);
    expect(facts.kind).toBe("update");
  });

  it("ONLY is recorded", () => {
    expect(factsOf("SELECT * FROM ONLY a, b").reads.map((r) => r.inh)).toEqual([false, true]);
  });

  it("function calls with their arity and schema", () => {
    const facts = factsOf("SELECT count(*), s.f(1, 2), g(VARIADIC ARRAY[1]) FROM generate_series(1, 2)");
    expect(facts.functions).toEqual([
      { schema: undefined, name: "count", argCount: 0, variadicArray: false },
      { schema: "s", name: "f", argCount: 2, variadicArray: false },
      { schema: undefined, name: "g", argCount: 1, variadicArray: true },
      { schema: undefined, name: "generate_series", argCount: 2, variadicArray: false },
    ]);
  });

  it("operators, including BETWEEN and qualified ones", () => {
    const facts = factsOf(
      "SELECT 1 WHERE a = b AND c BETWEEN 1 AND 2 AND d OPERATOR(s.@@@) e AND f = ANY (SELECT 1)",
    );
    expect(facts.operators).toEqual([
      { schema: undefined, name: "=" },
      { schema: undefined, name: ">=" },
      { schema: undefined, name: "<=" },
      { schema: "s", name: "@@@" },
      { schema: undefined, name: "=" },
    ]);
  });

  it.each([
    ["SELECT CURRENT_DATE", "opaque", "time-dependent CURRENT_DATE"],
    ["SELECT LOCALTIMESTAMP(3)", "opaque", "time-dependent LOCALTIMESTAMP"],
    ["SELECT 'today'::date", "opaque", "time-dependent 'today'"],
    ["SELECT SESSION_USER", "sessionDependent", "session-dependent SESSION_USER"],
    ["SELECT * FROM a FOR SHARE", "opaque", "locking read (FOR UPDATE/SHARE)"],
    ["SELECT * INTO b FROM a", "opaque", "SELECT INTO creates a table"],
    ["EXPLAIN ANALYZE DELETE FROM a", "opaque", "EXPLAIN"],
    ["CALL p()", "opaque", "CALL of a procedure"],
    ["DO $$ BEGIN END $$", "opaque", "DO block"],
    ["ALTER TABLE a ADD COLUMN b int", "opaque", "utility statement AlterTableStmt"],
  ] as const)("%s: %s %s", (sql, field, reason) => {
    expect(factsOf(sql)[field]).toBe(reason);
  });

  it("AND CHAIN is recorded: the connection stays in a transaction", () => {
    expect(factsOf("COMMIT AND CHAIN").chained).toBe(true);
    expect(factsOf("ROLLBACK AND CHAIN").chained).toBe(true);
    expect(factsOf("COMMIT").chained).toBe(false);
  });

  it("EXPLAIN ANALYZE runs its statement: the write is reported", () => {
    expect(names(factsOf("EXPLAIN ANALYZE DELETE FROM a").writes)).toEqual(["a"]);
  });

  it("DDL and GRANT change the schema; SET, COPY and TRUNCATE do not", () => {
    expect(factsOf("CREATE INDEX ON a (b)").schemaChange).toBe(true);
    expect(factsOf("GRANT SELECT ON a TO PUBLIC").schemaChange).toBe(true);
    expect(factsOf("SET search_path = x").schemaChange).toBe(false);
    expect(factsOf("TRUNCATE a").schemaChange).toBe(false);
  });

  it.each([
    ["BEGIN", "begin"],
    ["BEGIN ISOLATION LEVEL REPEATABLE READ", "begin"],
    ["START TRANSACTION", "begin"],
    ["COMMIT", "commit"],
    ["COMMIT AND CHAIN", "commit"],
    ["END", "commit"],
    ["PREPARE TRANSACTION 'x'", "commit"],
    ["ROLLBACK", "rollback"],
    ["ABORT", "rollback"],
    ["SAVEPOINT s", "savepoint"],
    ["RELEASE s", "release"],
    ["ROLLBACK TO s", "rollback-to"],
    ["COMMIT PREPARED 'x'", undefined],
  ] as const)("%s is %s", (sql, transaction) => {
    expect(factsOf(sql).transaction).toBe(transaction);
  });
});

describe("mentionedTables (parse only)", () => {
  it("lists reads and writes as written, CTE names left out", async () => {
    await expect(
      mentionedTables('WITH c AS (SELECT * FROM "S"."T") INSERT INTO log SELECT * FROM c JOIN u ON true'),
    ).resolves.toEqual([
      { schema: "S", table: "T", written: false },
      { schema: undefined, table: "u", written: false },
      { schema: undefined, table: "log", written: true },
    ]);
  });

  it("throws a typed error for text the grammar rejects", async () => {
    await expect(mentionedTables("SELECT FROM WHERE")).rejects.toBeInstanceOf(SqlParseError);
  });
});

describe("search_path parsing", () => {
  it.each([
    ['"$user", public', ["$user", "public"]],
    ["App,  PUBLIC", ["app", "public"]],
    ['"My ""Quoted"" Schema", x', ['My "Quoted" Schema', "x"]],
    ['"Ünï", pg_temp', ["Ünï", "pg_temp"]],
    ["", []],
  ])("%j", (raw, entries) => {
    expect(parseSearchPath(raw)).toEqual(entries);
  });
});

describe("built-in function verdicts", () => {
  it.each([
    ["now", 0, "s", { opaque: "time-dependent now()" }],
    ["age", 1, "s", { opaque: "time-dependent age()" }],
    ["age", 2, "i", {}],
    ["random", 0, "v", { opaque: "volatile function random()" }],
    ["current_setting", 1, "s", { sessionDependent: "session-dependent current_setting()" }],
    ["has_table_privilege", 2, "s", { sessionDependent: "session-dependent has_table_privilege()" }],
    ["pg_typeof", 1, "s", {}],
    ["pg_backend_pid", 0, "s", { opaque: "server-state function pg_backend_pid()" }],
    ["pg_size_pretty", 1, "i", {}],
    ["to_regclass", 1, "s", { opaque: "catalog-reading function to_regclass()" }],
    ["txid_current", 0, "s", { opaque: "transaction-dependent txid_current()" }],
    ["lower", 1, "i", {}],
  ] as const)("%s/%d", (name, args, volatility, verdict) => {
    expect(classifyBuiltin(name, args, volatility)).toEqual(verdict);
  });
});

describe("LruMap", () => {
  it("forgets the least recently used entry first", () => {
    const map = new LruMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    map.get("a");
    map.set("c", 3);
    expect([map.get("a"), map.get("b"), map.get("c"), map.size]).toEqual([1, undefined, 3, 2]);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlAnalyzer, type SqlAnalyzer } from "../src/analysis/index.js";
import type { WriteSource } from "../src/engine/statement-analysis.js";

const db = useTestDatabase("write_constraints");
let analyzer: SqlAnalyzer;

beforeAll(async () => {
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES users ON UPDATE CASCADE,
                        title text NOT NULL, score numeric NOT NULL DEFAULT 0,
                        lower_title text GENERATED ALWAYS AS (lower(title)) STORED);
    CREATE TABLE comments (id int PRIMARY KEY, post_id int NOT NULL REFERENCES posts ON DELETE CASCADE, body text);
    CREATE TABLE likes (comment_id int REFERENCES comments ON DELETE SET NULL, n int);
    CREATE TABLE audited (id int PRIMARY KEY, v int);
    CREATE TABLE audit_log (at timestamptz DEFAULT now(), what text);
    CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS
      $$BEGIN INSERT INTO audit_log (what) VALUES (TG_OP); RETURN NULL; END$$;
    CREATE TRIGGER audited_audit AFTER UPDATE ON audited FOR EACH STATEMENT EXECUTE FUNCTION audit();
    CREATE TABLE ruled (id int PRIMARY KEY);
    CREATE RULE ruled_log AS ON DELETE TO ruled DO ALSO INSERT INTO audit_log (what) VALUES ('delete');
    CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
    CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    CREATE VIEW post_titles AS SELECT id, title FROM posts;
  `);
  await setup.end();
  analyzer = await createSqlAnalyzer({ connectionString: db.url });
});

afterAll(async () => {
  await analyzer?.close();
});

function describeSource(source: WriteSource): string {
  if ("returned" in source) return `returned:${source.returned}`;
  return source.values
    .map((v) => ("literal" in v ? v.literal : `$${v.param}${v.array ? "[]" : ""}`))
    .join(",");
}

/** `column: part | part` with each part's sources as `a / b`, per row-level target. */
async function rowWrites(sql: string): Promise<Record<string, string[]>> {
  const result = await analyzer.analyze(sql);
  const out: Record<string, string[]> = {};
  for (const write of result.rowWrites ?? []) {
    out[write.table.table] = write.columns.map(
      (c) => `${c.column}: ${c.parts.map((part) => part.map(describeSource).join(" / ")).join(" | ")}`,
    );
  }
  return out;
}

async function writes(sql: string): Promise<string[]> {
  return (await analyzer.analyze(sql)).writes.map((t) => t.table).sort();
}

describe("the rows a write names (read-your-writes per row)", () => {
  it("UPDATE: the WHERE names the old values; a column it does not assign keeps them", async () => {
    expect(await rowWrites("UPDATE posts SET title = $1 WHERE id = $2")).toEqual({ posts: ["id: $2"] });
    // Prisma's shape: qualified columns, a tautology conjunct, RETURNING of qualified columns.
    expect(
      await rowWrites(
        'UPDATE "public"."posts" SET "title" = $1 WHERE ("public"."posts"."id" = $2 AND 1=1) RETURNING "public"."posts"."id", "public"."posts"."author_id"',
      ),
    ).toEqual({ posts: ["id: $2 / returned:id", "author_id: returned:author_id"] });
  });

  it("UPDATE of a constrained column: its old values come from the WHERE only, never from RETURNING", async () => {
    // Old author unknown: author_id is not named (its entries drop column-wide).
    expect(await rowWrites("UPDATE posts SET author_id = $1 WHERE id = $2 RETURNING author_id")).toEqual({
      posts: ["id: $2"],
    });
    expect(await rowWrites("UPDATE posts SET author_id = $1 WHERE id = $2 AND author_id = $3")).toEqual({
      posts: ["id: $2", "author_id: $3 | $1"],
    });
    // The key itself moves: old from the WHERE, new from SET.
    expect(await rowWrites("UPDATE posts SET id = 9 WHERE id = 7")).toEqual({ posts: ["id: 7 | 9"] });
    // A generated column changes with what it is computed from: never "same as before".
    expect(await rowWrites("UPDATE posts SET title = $1 WHERE id = $2 RETURNING lower_title")).toEqual({
      posts: ["id: $2"],
    });
  });

  it("DELETE: IN, = ANY, RETURNING", async () => {
    expect(await rowWrites("DELETE FROM posts WHERE id IN (1, 2, $1)")).toEqual({ posts: ["id: 1,2,$1"] });
    expect(await rowWrites("DELETE FROM posts WHERE id = ANY($1) RETURNING author_id AS a")).toEqual({
      posts: ["id: $1[]", "author_id: returned:a"],
    });
    // An expression in RETURNING may carry any output name: none is trusted.
    expect(
      await rowWrites("DELETE FROM posts WHERE id = 1 RETURNING author_id, id + 1 AS author_id"),
    ).toEqual({ posts: ["id: 1"] });
    expect(await rowWrites("DELETE FROM posts p WHERE p.id = 1 RETURNING *")).toEqual({
      posts: [
        "id: 1 / returned:id",
        "author_id: returned:author_id",
        "title: returned:title",
        "lower_title: returned:lower_title",
      ],
    });
  });

  it("INSERT: VALUES given literally or as parameters, defaults through RETURNING only", async () => {
    expect(
      await rowWrites("INSERT INTO posts (id, author_id, title) VALUES ($1, $2, 'x'), (3, 1, $3)"),
    ).toEqual({
      posts: ["id: $1,3", "author_id: $2,1", "title: x,$3"],
    });
    expect(await rowWrites("INSERT INTO posts (author_id, title) VALUES ($1, DEFAULT) RETURNING id")).toEqual(
      {
        posts: ["id: returned:id", "author_id: $1"],
      },
    );
    expect(
      await rowWrites("INSERT INTO posts (id, author_id, title) VALUES (1, 1, 'x') ON CONFLICT DO NOTHING"),
    ).toEqual({
      posts: ["id: 1", "author_id: 1", "title: x"],
    });
    // A cast with a modifier may change the value stored.
    expect(
      await rowWrites("INSERT INTO posts (id, author_id, title) VALUES (1, 1, 'abc'::varchar(2))"),
    ).toEqual({
      posts: ["id: 1", "author_id: 1"],
    });
  });

  it.each([
    [
      "UPDATE ... FROM",
      "UPDATE posts SET title = u.name FROM users u WHERE posts.id = 1 AND u.id = posts.author_id",
    ],
    ["DELETE ... USING", "DELETE FROM posts USING users u WHERE posts.id = 1"],
    ["a writable CTE", "WITH d AS (DELETE FROM posts WHERE id = 1 RETURNING id) SELECT * FROM d"],
    ["WITH on the write", "WITH x AS (SELECT 1) DELETE FROM posts WHERE id = 1"],
    [
      "ON CONFLICT DO UPDATE",
      "INSERT INTO posts (id, author_id, title) VALUES (1, 1, 'x') ON CONFLICT (id) DO UPDATE SET title = 'y'",
    ],
    ["a user trigger", "UPDATE audited SET v = 1 WHERE id = 1"],
    ["a rule", "DELETE FROM ruled WHERE id = 1"],
    ["a partitioned table", "DELETE FROM events WHERE id = 1"],
    ["a partition", "DELETE FROM events_2026 WHERE id = 1"],
    ["a view", "UPDATE post_titles SET title = 'x' WHERE id = 1"],
    ["MERGE", "MERGE INTO posts p USING users u ON p.author_id = u.id WHEN MATCHED THEN DELETE"],
    ["several statements", "DELETE FROM posts WHERE id = 1; DELETE FROM posts WHERE id = 2"],
    ["INSERT ... SELECT", "INSERT INTO users (id, name) SELECT id + 100, name FROM users"],
    ["INSERT without a column list", "INSERT INTO users VALUES (5, 'x')"],
  ])("%s: the whole table", async (_shape, sql) => {
    const result = await analyzer.analyze(sql);
    const named = (result.rowWrites ?? []).filter((w) => w.columns.length > 0);
    expect(named).toEqual([]);
  });

  it("a foreign-key action writes the referencing tables, recursively; the rows of a table written by one are not named", async () => {
    expect(await writes("DELETE FROM posts WHERE id = 1")).toEqual(["comments", "likes", "posts"]);
    // NO ACTION on delete of users: nothing else changes.
    expect(await writes("DELETE FROM users WHERE id = 1")).toEqual(["users"]);
    // ON UPDATE CASCADE: only an UPDATE that assigns the referenced key.
    expect(await writes("UPDATE users SET name = 'x' WHERE id = 1")).toEqual(["users"]);
    expect(await writes("UPDATE users SET id = 5 WHERE id = 1")).toEqual(["posts", "users"]);
    expect(await rowWrites("UPDATE users SET id = 5 WHERE id = 1")).toEqual({ users: ["id: 1 | 5"] });
    // TRUNCATE ... CASCADE empties every referencing table, whatever its key's actions; without CASCADE nothing else.
    expect(await writes("TRUNCATE users CASCADE")).toEqual(["comments", "likes", "posts", "users"]);
    expect(await writes("TRUNCATE likes")).toEqual(["likes"]);
    // A rule on the table: what it references counts as written.
    expect(await writes("DELETE FROM ruled WHERE id = 1")).toEqual(["audit_log", "ruled"]);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AnalyzeContext,
  createSqlAnalyzer,
  type SqlAnalyzer,
  type StatementDependencies,
} from "../src/analysis/index.js";
import { formatTable } from "../src/events/table-name.js";

const db = useTestDatabase("analysis");

const SCHEMA = `
CREATE TABLE users (id int PRIMARY KEY, name text);
CREATE TABLE posts (id int PRIMARY KEY, author_id int, body text);
CREATE TABLE comments (id int, post_id int);
CREATE SCHEMA app;
CREATE TABLE app.users (id int);
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case"."Ünïcode Tåble" (id int);
CREATE TABLE "CamelCase" (id int);
CREATE VIEW post_authors AS SELECT p.id, u.name FROM posts p JOIN users u ON u.id = p.author_id;
CREATE VIEW post_authors_positive AS SELECT * FROM post_authors WHERE id > 0;
CREATE VIEW post_threads AS
  SELECT pa.id, pa.name, c.id AS comment_id FROM post_authors_positive pa JOIN comments c ON c.post_id = pa.id;
CREATE VIEW positive_posts AS SELECT * FROM posts WHERE id > 0;
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY RANGE (at);
CREATE TABLE events_2026_h1 PARTITION OF events_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE MATERIALIZED VIEW post_counts AS SELECT author_id, count(*) AS n FROM posts GROUP BY author_id;
CREATE FUNCTION author_name(int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT name FROM users WHERE id = $1 $$;
CREATE FUNCTION same_int(int, int) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 = $2 $$;
CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = same_int);
CREATE SEQUENCE ticket_seq;
CREATE TABLE secrets (id int, owner text);
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
CREATE VIEW secret_view AS SELECT * FROM secrets;
CREATE VIEW clock_view AS SELECT now() AS t;
CREATE VIEW author_name_view AS SELECT author_name(1) AS name;
CREATE FUNCTION user_posts() RETURNS SETOF posts LANGUAGE sql STABLE AS $$ SELECT * FROM posts $$;
CREATE EXTENSION citext;
CREATE TABLE emails (address citext PRIMARY KEY);
CREATE FOREIGN DATA WRAPPER dummy_fdw;
CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw;
CREATE FOREIGN TABLE remote_things (id int) SERVER dummy_server;
CREATE TABLE measurements (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE measurements_local PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE FOREIGN TABLE measurements_remote PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
  SERVER dummy_server;
`;

let admin: pg.Client;
let analyzer: SqlAnalyzer;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(SCHEMA);
  analyzer = await createSqlAnalyzer({ connectionString: db.url, memoSize: 100 });
});

afterAll(async () => {
  await analyzer?.close();
  await admin?.end();
});

interface Case {
  readonly sql: string;
  readonly context?: AnalyzeContext;
  readonly reads?: readonly string[];
  readonly writes?: readonly string[];
  /** Expected opaque reason (pattern); absent: must be fully known. */
  readonly opaque?: RegExp;
  readonly session?: RegExp;
  readonly kind?: StatementDependencies["kind"];
  readonly transaction?: StatementDependencies["transaction"];
  readonly chained?: true;
}

const names = (tables: StatementDependencies["reads"]): string[] => tables.map(formatTable).sort();

const CASES: Record<string, Case> = {
  "CTE names are not tables (a CTE shadows a table of the same name)": {
    sql: "WITH users AS (SELECT 1 AS id) SELECT * FROM users",
    reads: [],
  },
  "CTE over a table, joined with another": {
    sql: "WITH a AS (SELECT * FROM posts) SELECT * FROM a JOIN users ON users.id = a.author_id",
    reads: ["public.posts", "public.users"],
  },
  "a CTE sees only earlier CTEs (a later name is a table)": {
    sql: "WITH a AS (SELECT * FROM comments), comments AS (SELECT * FROM a) SELECT * FROM comments",
    reads: ["public.comments"],
  },
  "recursive CTE": {
    sql: "WITH RECURSIVE t(n) AS (SELECT id FROM comments UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT * FROM t",
    reads: ["public.comments"],
  },
  LATERAL: {
    sql: "SELECT * FROM users u, LATERAL (SELECT * FROM posts p WHERE p.author_id = u.id LIMIT 1) x",
    reads: ["public.posts", "public.users"],
  },
  "subquery in SELECT list": {
    sql: "SELECT u.id, (SELECT count(*) FROM posts p WHERE p.author_id = u.id) FROM users u",
    reads: ["public.posts", "public.users"],
  },
  "subquery in WHERE": {
    sql: "SELECT * FROM posts p WHERE EXISTS (SELECT 1 FROM comments c WHERE c.post_id = p.id)",
    reads: ["public.comments", "public.posts"],
  },
  "subquery in HAVING": {
    sql: "SELECT author_id FROM posts GROUP BY author_id HAVING count(*) > (SELECT count(*) FROM comments)",
    reads: ["public.comments", "public.posts"],
  },
  "subquery in ORDER BY": {
    sql: "SELECT * FROM posts p ORDER BY (SELECT max(id) FROM comments c WHERE c.post_id = p.id)",
    reads: ["public.comments", "public.posts"],
  },
  "UNION / INTERSECT / EXCEPT": {
    sql: "SELECT id FROM users UNION SELECT id FROM posts INTERSECT SELECT id FROM comments EXCEPT SELECT id FROM app.users",
    reads: ["app.users", "public.comments", "public.posts", "public.users"],
  },
  "CTE shared by both sides of a UNION": {
    sql: "WITH x AS (SELECT id FROM posts) SELECT id FROM x UNION ALL SELECT id FROM x",
    reads: ["public.posts"],
  },
  "a view over a view over a join": {
    sql: "SELECT * FROM post_threads",
    reads: ["public.comments", "public.posts", "public.users"],
  },
  "partitioned table: itself and every partition, recursively": {
    sql: "SELECT * FROM events",
    reads: ["public.events", "public.events_2025", "public.events_2026", "public.events_2026_h1"],
  },
  "a partition read directly: itself and its ancestors": {
    sql: "SELECT * FROM events_2026_h1",
    reads: ["public.events", "public.events_2026", "public.events_2026_h1"],
  },
  "ONLY a partitioned table": {
    sql: "SELECT * FROM ONLY events",
    reads: ["public.events"],
  },
  "materialized view is opaque": {
    sql: "SELECT * FROM post_counts",
    opaque: /^materialized view public\.post_counts$/,
  },
  "user function in WHERE that reads a table is opaque": {
    sql: "SELECT * FROM posts WHERE author_name(author_id) = 'ann'",
    reads: ["public.posts"],
    opaque: /^user function public\.author_name\(\) may read tables$/,
  },
  "a view calling a user function is opaque": {
    sql: "SELECT * FROM author_name_view",
    opaque: /user function public\.author_name\(\)/,
  },
  "user set-returning function in FROM is opaque": {
    sql: "SELECT * FROM user_posts()",
    opaque: /^user function public\.user_posts\(\) may read tables$/,
  },
  "an extension's immutable C operators are trusted (citext =)": {
    sql: "SELECT * FROM emails WHERE address = 'Ann@Example.com'::citext",
    reads: ["public.emails"],
  },
  "foreign table is opaque": {
    sql: "SELECT * FROM remote_things",
    opaque: /^foreign table public\.remote_things$/,
  },
  "a partitioned table with a foreign partition is opaque": {
    sql: "SELECT * FROM measurements",
    reads: ["public.measurements", "public.measurements_local", "public.measurements_remote"],
    opaque: /^foreign table public\.measurements_remote$/,
  },
  "user-defined operator is opaque": {
    sql: "SELECT * FROM posts WHERE id === 1",
    reads: ["public.posts"],
    opaque: /operator public\.===: user function public\.same_int\(\)/,
  },
  "now()": {
    sql: "SELECT * FROM posts WHERE id < extract(epoch FROM now())",
    reads: ["public.posts"],
    opaque: /^time-dependent now\(\)$/,
  },
  CURRENT_TIMESTAMP: { sql: "SELECT CURRENT_TIMESTAMP", opaque: /^time-dependent CURRENT_TIMESTAMP$/ },
  "'now'::timestamptz": { sql: "SELECT 'now'::timestamptz", opaque: /^time-dependent 'now'$/ },
  "a view calling now()": { sql: "SELECT * FROM clock_view", opaque: /time-dependent now\(\)/ },
  "random()": {
    sql: "SELECT * FROM posts ORDER BY random()",
    reads: ["public.posts"],
    opaque: /^volatile function random\(\)$/,
  },
  "nextval()": { sql: "SELECT nextval('ticket_seq')", opaque: /^volatile function nextval\(\)$/ },
  "gen_random_uuid()": { sql: "SELECT gen_random_uuid()", opaque: /^volatile function gen_random_uuid\(\)$/ },
  "pg_backend_pid()": { sql: "SELECT pg_backend_pid()", opaque: /server-state function pg_backend_pid\(\)/ },
  "built-in immutable and stable functions, aggregates, window functions are fine": {
    sql: "SELECT lower(name), count(*), row_number() OVER (ORDER BY min(id)), coalesce(max(id), 0), to_char(1, '9') FROM users GROUP BY name",
    reads: ["public.users"],
  },
  "built-in set-returning function in FROM is fine": {
    sql: "SELECT * FROM generate_series(1, 3) g JOIN posts ON posts.id = g",
    reads: ["public.posts"],
  },
  "SELECT without a table": { sql: "SELECT 1", reads: [] },
  "data-modifying CTEs: every target is written": {
    sql: "WITH d AS (DELETE FROM comments WHERE post_id = 1 RETURNING post_id) UPDATE posts SET body = '' WHERE id IN (SELECT post_id FROM d)",
    writes: ["public.comments", "public.posts"],
    kind: "update",
  },
  "SELECT over a data-modifying CTE writes and is opaque": {
    sql: "WITH i AS (INSERT INTO comments VALUES (1, 1) RETURNING *) SELECT * FROM i",
    writes: ["public.comments"],
    opaque: /^data-modifying WITH$/,
    kind: "select",
  },
  "INSERT ... SELECT": {
    sql: "INSERT INTO comments SELECT id, id FROM posts",
    reads: ["public.posts"],
    writes: ["public.comments"],
    kind: "insert",
  },
  "INSERT ... ON CONFLICT": {
    sql: "INSERT INTO users VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    writes: ["public.users"],
    kind: "insert",
  },
  "UPDATE ... FROM": {
    sql: "UPDATE posts SET body = u.name FROM users u WHERE u.id = posts.author_id",
    reads: ["public.users"],
    writes: ["public.posts"],
    kind: "update",
  },
  "DELETE ... USING": {
    sql: "DELETE FROM comments USING posts WHERE posts.id = comments.post_id",
    reads: ["public.posts"],
    writes: ["public.comments"],
    kind: "delete",
  },
  MERGE: {
    sql: "MERGE INTO posts p USING users u ON p.id = u.id WHEN MATCHED THEN UPDATE SET body = u.name WHEN NOT MATCHED THEN INSERT (id) VALUES (u.id)",
    reads: ["public.users"],
    writes: ["public.posts"],
    kind: "merge",
  },
  "write through an updatable view goes to its base table": {
    sql: "UPDATE positive_posts SET body = 'x'",
    writes: ["public.posts"],
    kind: "update",
  },
  "write to a partitioned table: itself and its partitions": {
    sql: "DELETE FROM events",
    writes: ["public.events", "public.events_2025", "public.events_2026", "public.events_2026_h1"],
    kind: "delete",
  },
  "unqualified name under search_path app, public": {
    sql: "SELECT * FROM users",
    context: { searchPath: "app, public" },
    reads: ["app.users"],
  },
  "unqualified name under search_path public, app": {
    sql: "SELECT * FROM users",
    context: { searchPath: "public, app" },
    reads: ["public.users"],
  },
  'unqualified name under "$user", public for role app': {
    sql: "SELECT * FROM users",
    context: { searchPath: '"$user", public', user: "app" },
    reads: ["app.users"],
  },
  "a schema missing from the path is skipped": {
    sql: "SELECT * FROM posts",
    context: { searchPath: "nowhere, public" },
    reads: ["public.posts"],
  },
  "quoted mixed-case and non-ASCII names round-trip": {
    sql: 'SELECT * FROM "Mixed Case"."Ünïcode Tåble" JOIN "CamelCase" ON true',
    reads: ["Mixed Case.Ünïcode Tåble", "public.CamelCase"],
  },
  "an unquoted name is case-folded (no such table)": {
    sql: "SELECT * FROM CamelCase",
    opaque: /^unknown relation camelcase$/,
  },
  "row-level security makes it session-dependent": {
    sql: "SELECT * FROM secrets",
    reads: ["public.secrets"],
    session: /^row-level security on public\.secrets$/,
  },
  "row-level security through a view": {
    sql: "SELECT * FROM secret_view",
    reads: ["public.secrets"],
    session: /row-level security on public\.secrets/,
  },
  "current_setting() is session-dependent, not opaque": {
    sql: "SELECT * FROM posts WHERE body = current_setting('app.tenant')",
    reads: ["public.posts"],
    session: /^session-dependent current_setting\(\)$/,
  },
  "current_user is session-dependent": {
    sql: "SELECT * FROM users WHERE name = current_user",
    reads: ["public.users"],
    session: /^session-dependent CURRENT_USER$/,
  },
  "system catalog is opaque": {
    sql: "SELECT * FROM pg_class",
    opaque: /^system catalog pg_catalog\.pg_class$/,
  },
  "information_schema is opaque": {
    sql: "SELECT * FROM information_schema.tables",
    opaque: /^system catalog information_schema\.tables$/,
  },
  "locking read is opaque": {
    sql: "SELECT * FROM posts FOR UPDATE",
    reads: ["public.posts"],
    opaque: /^locking read/,
    kind: "select",
  },
  "TABLESAMPLE is opaque": {
    sql: "SELECT * FROM posts TABLESAMPLE SYSTEM (10)",
    reads: ["public.posts"],
    opaque: /^TABLESAMPLE$/,
  },
  "COPY FROM writes": {
    sql: "COPY comments FROM STDIN",
    writes: ["public.comments"],
    opaque: /^COPY$/,
    kind: "utility",
  },
  "COPY (query) TO reads": {
    sql: "COPY (SELECT * FROM posts) TO STDOUT",
    reads: ["public.posts"],
    opaque: /^COPY$/,
    kind: "utility",
  },
  "TRUNCATE writes": {
    sql: "TRUNCATE posts, comments",
    writes: ["public.comments", "public.posts"],
    opaque: /^TRUNCATE$/,
    kind: "utility",
  },
  SET: { sql: "SET search_path = app", opaque: /^SET$/, kind: "utility" },
  SHOW: { sql: "SHOW search_path", opaque: /^SHOW$/, kind: "utility" },
  DDL: { sql: "CREATE TABLE x (a int)", opaque: /^utility statement CreateStmt$/, kind: "utility" },
  BEGIN: { sql: "BEGIN", opaque: /^transaction control$/, kind: "utility", transaction: "begin" },
  "START TRANSACTION": {
    sql: "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    opaque: /./,
    transaction: "begin",
  },
  COMMIT: { sql: "COMMIT", opaque: /./, transaction: "commit" },
  END: { sql: "END", opaque: /./, transaction: "commit" },
  "PREPARE TRANSACTION ends the session's transaction": {
    sql: "PREPARE TRANSACTION 'tx1'",
    opaque: /./,
    transaction: "commit",
  },
  ROLLBACK: { sql: "ROLLBACK", opaque: /./, transaction: "rollback" },
  "COMMIT AND CHAIN": { sql: "COMMIT AND CHAIN", opaque: /./, transaction: "commit", chained: true },
  SAVEPOINT: { sql: "SAVEPOINT s1", opaque: /./, transaction: "savepoint" },
  "RELEASE SAVEPOINT": { sql: "RELEASE SAVEPOINT s1", opaque: /./, transaction: "release" },
  "ROLLBACK TO SAVEPOINT": { sql: "ROLLBACK TO SAVEPOINT s1", opaque: /./, transaction: "rollback-to" },
  "parse error is opaque, never thrown": {
    sql: "SELEC * FROM posts",
    opaque: /^parse error: syntax error at or near "SELEC"$/,
  },
  "a text without a statement": { sql: "-- only a comment", opaque: /^empty statement$/, kind: "utility" },
  "unknown function is opaque": {
    sql: "SELECT no_such_function(1)",
    opaque: /^unknown function no_such_function\(\)$/,
  },
  "several statements: union, first reason, no transaction": {
    sql: "BEGIN; SELECT * FROM users; SELECT * FROM posts",
    reads: ["public.posts", "public.users"],
    opaque: /^transaction control$/,
    kind: "select",
  },
};

describe("analyzer on the catalog: statements and what they depend on", () => {
  it.each(Object.entries(CASES))("%s", async (_title, c) => {
    const result = await analyzer.analyze(c.sql, c.context);
    if (c.reads) expect(names(result.reads)).toEqual([...c.reads].sort());
    expect(names(result.writes)).toEqual([...(c.writes ?? [])].sort());
    if (c.opaque) expect(result.opaque).toMatch(c.opaque);
    else expect(result.opaque).toBeUndefined();
    if (c.session) expect(result.sessionDependent).toMatch(c.session);
    else expect(result.sessionDependent).toBeUndefined();
    if (c.kind) expect(result.kind).toBe(c.kind);
    expect(result.transaction).toBe(c.transaction);
    expect(result.chained).toBe(c.chained);
  });
});

describe("analyzer on the catalog: memo and refresh", () => {
  it("a second analysis of the same text is a memo hit: no parse, same frozen object", async () => {
    const sql = "SELECT * FROM posts WHERE id = $1 /* memo */";
    const first = await analyzer.analyze(sql);
    const before = { ...analyzer.counters };
    const second = analyzer.analyze(sql);
    expect(second).toBe(first);
    expect(analyzer.counters.parses).toBe(before.parses);
    expect(analyzer.counters.memoHits).toBe(before.memoHits + 1);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it("the same text under another search_path is another entry", async () => {
    const sql = "SELECT * FROM users /* two paths */";
    const app = await analyzer.analyze(sql, { searchPath: "app" });
    const pub = await analyzer.analyze(sql, { searchPath: "public" });
    expect(names(app.reads)).toEqual(["app.users"]);
    expect(names(pub.reads)).toEqual(["public.users"]);
  });

  it("a hit under an explicit search_path is a memo hit too; the memo is bounded by memoSize", async () => {
    const small = await createSqlAnalyzer({ connectionString: db.url, memoSize: 2 });
    try {
      small.analyze("SELECT * FROM users", { searchPath: "app" });
      const hits = small.counters.memoHits;
      expect(
        names((small.analyze("SELECT * FROM users", { searchPath: "app" }) as StatementDependencies).reads),
      ).toEqual(["app.users"]);
      expect(small.counters.memoHits).toBe(hits + 1);
      small.analyze("SELECT * FROM posts");
      small.analyze("SELECT * FROM comments");
      const parses = small.counters.parses;
      small.analyze("SELECT * FROM users", { searchPath: "app" }); // evicted: parsed again
      expect(small.counters.parses).toBe(parses + 1);
    } finally {
      await small.close();
    }
  });

  it("a table created after the catalog was read is found: one reload, and the answer is a Promise", async () => {
    expect(analyzer.analyze("SELECT 1 FROM posts /* warm */")).not.toBeInstanceOf(Promise);
    await admin.query("CREATE TABLE late_table (id int)");
    const loads = analyzer.counters.catalogLoads;
    const pending = analyzer.analyze("SELECT * FROM late_table");
    expect(pending).toBeInstanceOf(Promise);
    const result = await pending;
    expect(names(result.reads)).toEqual(["public.late_table"]);
    expect(result.opaque).toBeUndefined();
    expect(analyzer.counters.catalogLoads).toBe(loads + 1);
    // Now known: synchronous again, and memoised.
    const again = analyzer.analyze("SELECT * FROM late_table");
    expect(again).not.toBeInstanceOf(Promise);
  });

  it('"$user" without the connection\'s role: a role-named schema holding the name makes it session-dependent', async () => {
    const role = `pgcw_user_${process.pid}_${Date.now()}`;
    await admin.query(`CREATE ROLE "${role}"; CREATE SCHEMA "${role}" AUTHORIZATION "${role}";
      CREATE TABLE "${role}".posts (id int)`);
    try {
      analyzer.invalidateCatalog();
      const guessed = await analyzer.analyze("SELECT * FROM posts /* $user */", {
        searchPath: '"$user", public',
      });
      expect(guessed.sessionDependent).toMatch(/resolves through "\$user" differently per role/);
      const known = await analyzer.analyze("SELECT * FROM posts /* $user */", {
        searchPath: '"$user", public',
        user: role,
      });
      expect(names(known.reads)).toEqual([`${role}.posts`]);
      expect(known.sessionDependent).toBeUndefined();
    } finally {
      await admin.query(`DROP SCHEMA "${role}" CASCADE; DROP ROLE "${role}"`);
      analyzer.invalidateCatalog();
    }
  });

  it("a name a reload did not find does not reload again (another text, same snapshot)", async () => {
    const first = analyzer.analyze("SELECT * FROM ghost_table /* 1 */");
    expect(first).toBeInstanceOf(Promise);
    expect((await first).opaque).toBe("unknown relation ghost_table");
    const loads = analyzer.counters.catalogLoads;
    const second = analyzer.analyze("SELECT * FROM ghost_table /* 2 */");
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as StatementDependencies).opaque).toBe("unknown relation ghost_table");
    expect(analyzer.counters.catalogLoads).toBe(loads);
  });

  it("a schema of the search_path created after the catalog was read is found", async () => {
    await admin.query("CREATE SCHEMA tenant_late; CREATE TABLE tenant_late.users (id int)");
    const pending = analyzer.analyze("SELECT * FROM users /* late schema */", {
      searchPath: "tenant_late, public",
    });
    expect(pending).toBeInstanceOf(Promise);
    expect(names((await pending).reads)).toEqual(["tenant_late.users"]);
  });

  it("invalidateCatalog(): a redefined view is read again, memoised results are dropped", async () => {
    await admin.query("CREATE VIEW moving_view AS SELECT id FROM posts");
    expect(names((await analyzer.analyze("SELECT * FROM moving_view")).reads)).toEqual(["public.posts"]);
    await admin.query("CREATE OR REPLACE VIEW moving_view AS SELECT id FROM comments");
    // Without invalidation the memo still answers with what the old catalog said.
    expect(names((await analyzer.analyze("SELECT * FROM moving_view")).reads)).toEqual(["public.posts"]);
    analyzer.invalidateCatalog();
    const pending = analyzer.analyze("SELECT * FROM moving_view");
    expect(pending).toBeInstanceOf(Promise);
    expect(names((await pending).reads)).toEqual(["public.comments"]);
  });

  it("concurrent analyses after an invalidation share one catalog load", async () => {
    analyzer.invalidateCatalog();
    const loads = analyzer.counters.catalogLoads;
    const results = await Promise.all([
      analyzer.analyze("SELECT * FROM posts /* c1 */"),
      analyzer.analyze("SELECT * FROM users /* c2 */"),
      analyzer.analyze("SELECT * FROM comments /* c3 */"),
    ]);
    expect(results.map((r) => names(r.reads))).toEqual([
      ["public.posts"],
      ["public.users"],
      ["public.comments"],
    ]);
    expect(analyzer.counters.catalogLoads).toBe(loads + 1);
  });

  it("a temporary table of another session makes the unqualified name opaque", async () => {
    const session = await db.externalWriter();
    await session.query("CREATE TEMP TABLE posts (id int)");
    analyzer.invalidateCatalog();
    const result = await analyzer.analyze("SELECT * FROM posts /* temp */");
    expect(result.opaque).toBe("temporary table posts");
    // Qualified, the permanent table is meant.
    const qualified = await analyzer.analyze("SELECT * FROM public.posts /* temp */");
    expect(qualified.opaque).toBeUndefined();
    await session.query("DROP TABLE pg_temp.posts");
    analyzer.invalidateCatalog();
  });

  it("an unreadable catalog: creation rejects; later, an opaque answer that is not memoised", async () => {
    const refused = await createSqlAnalyzer({
      connect: async () => {
        throw new Error("connection refused");
      },
    }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "CATALOG_LOAD" });

    let fail = false;
    const flaky = await createSqlAnalyzer({
      connect: async () => {
        if (fail) throw new Error("connection refused");
        const client = new pg.Client({ connectionString: db.url, application_name: "pgcw-flaky-catalog" });
        await client.connect();
        return client;
      },
    });
    try {
      fail = true;
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgcw-flaky-catalog'",
      );
      flaky.invalidateCatalog();
      let down = await flaky.analyze("SELECT * FROM posts /* down */");
      // The first load may still have found the dying connection: the next one reconnects and fails.
      if (!down.opaque) {
        flaky.invalidateCatalog();
        down = await flaky.analyze("SELECT * FROM posts /* down */");
      }
      expect(down.opaque).toMatch(/^catalog unavailable: /);
      fail = false;
      const up = await flaky.analyze("SELECT * FROM posts /* down */");
      expect(up.opaque).toBeUndefined();
      expect(names(up.reads)).toEqual(["public.posts"]);
    } finally {
      await flaky.close();
    }
  });
});

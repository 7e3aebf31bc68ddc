import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { installTriggers } from "@pgcachewatch/core/triggers";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { Kysely, PostgresDialect, type PostgresPool, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cached, type PgCacheWatchPlugin, pgCacheWatch } from "../src/index.js";
import { changeOf, nextEvent } from "./support/wait.js";

// No cached result crosses a boundary: one shared client in a transaction, tenants under
// row-level security, roles with different column privileges, pools with different search_paths.
// Every writer here is a raw pg connection the adapter does not see.

interface BoundaryDatabase {
  users: { id: number; name: string };
  people: { id: number; name: string; email: string };
  documents: { id: number; tenant: string; title: string };
  items: { id: number; label: string };
}

const database = useTestDatabase("kysely_boundaries");
let watch: CacheWatch;
let cache: PgCacheWatchPlugin;
let writer: pg.Client;
/** Roles are cluster-wide: names unique to this file's database. */
let roles: { tenantApp: string; fullReader: string; limitedReader: string };
const opened: Kysely<BoundaryDatabase>[] = [];

beforeAll(async () => {
  writer = await database.externalWriter();
  const suffix = database.name.replace(/[^a-z0-9_]/g, "_");
  roles = {
    tenantApp: `pgcw_tenant_app_${suffix}`,
    fullReader: `pgcw_full_${suffix}`,
    limitedReader: `pgcw_limited_${suffix}`,
  };
  for (const role of Object.values(roles)) {
    await writer.query(`CREATE ROLE "${role}" LOGIN PASSWORD 'boundary'`);
  }
  await writer.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO users VALUES (1, 'ada'), (2, 'grace');

    CREATE TABLE documents (id int PRIMARY KEY, tenant text NOT NULL, title text NOT NULL);
    INSERT INTO documents VALUES (1, 't1', 'one of t1'), (2, 't2', 'one of t2'), (3, 't1', 'two of t1');
    ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
    ALTER TABLE documents FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_rows ON documents USING (tenant = current_setting('app.tenant', true));
    GRANT SELECT ON documents TO "${roles.tenantApp}";

    CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL);
    INSERT INTO people VALUES (1, 'ada', 'ada@example.org');
    GRANT SELECT ON people TO "${roles.fullReader}";
    GRANT SELECT (id, name) ON people TO "${roles.limitedReader}";
    -- The limited role may switch to the full one (SET ROLE) without inheriting its privileges.
    ALTER ROLE "${roles.limitedReader}" NOINHERIT;
    GRANT "${roles.fullReader}" TO "${roles.limitedReader}";

    CREATE SCHEMA a;
    CREATE SCHEMA b;
    CREATE TABLE a.items (id int PRIMARY KEY, label text NOT NULL);
    CREATE TABLE b.items (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO a.items VALUES (1, 'in schema a');
    INSERT INTO b.items VALUES (1, 'in schema b');
  `);
  await installTriggers(writer, { tables: ["users", "documents", "people", "a.items", "b.items"] });
  watch = createCacheWatch({ connectionString: database.url });
  await watch.start();
  cache = pgCacheWatch(watch);
});

afterAll(async () => {
  for (const db of opened) await db.destroy();
  await watch?.stop();
  for (const role of Object.values(roles ?? {})) {
    await writer.query(`DROP OWNED BY "${role}"`);
    await writer.query(`DROP ROLE "${role}"`);
  }
});

/** A Kysely with the cache over its own pool. */
function kysely(pool: PostgresPool): Kysely<BoundaryDatabase> {
  const db = new Kysely<BoundaryDatabase>({
    dialect: cache.dialect(new PostgresDialect({ pool })),
    plugins: [cache],
  });
  opened.push(db);
  return db;
}

/** The test database's URL, as another role. */
function urlAs(role: string): string {
  const url = new URL(database.url);
  url.username = role;
  url.password = "boundary";
  return url.toString();
}

describe("one shared connection: a read while another request's transaction holds it", () => {
  it("runs inside that transaction and fills nothing; after ROLLBACK everyone gets the committed rows", async () => {
    // A dialect whose driver hands out the same pg.Client every time (a single-connection setup).
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const shared = Object.assign(client, { release() {} });
    const db = kysely({ connect: async () => shared, end: () => client.end(), options: {} });
    const read = () => db.selectFrom("users").select(["id", "name"]).orderBy("id").$call(cached()).execute();
    const committed = (await writer.query("SELECT id, name FROM users ORDER BY id")).rows;

    const trx = await db.startTransaction().execute();
    // A raw write on the shared client inside the transaction: no adapter sees it, no event comes.
    await client.query("UPDATE users SET name = 'uncommitted' WHERE id = 1");
    const before = watch.stats();
    const during = await read();
    expect(during[0]?.name).toBe("uncommitted");
    const refused = watch.stats().fillsUncacheable - before.fillsUncacheable;
    await trx.rollback().execute();

    expect(await read()).toEqual(committed);
    expect(await read()).toEqual(committed);
    expect(refused).toBe(1);
    expect(watch.stats().hits).toBe(before.hits + 1);
  });
});

describe("row-level security: two tenants keyed on current_setting('app.tenant')", () => {
  let tenant1: Kysely<BoundaryDatabase>;
  let tenant2: Kysely<BoundaryDatabase>;
  let onePool: Kysely<BoundaryDatabase>;
  const titles = (rows: { title: string }[]) => rows.map((r) => r.title);

  beforeAll(() => {
    // The same role; the tenant is a setting of each pool's sessions.
    const tenantPool = (tenant: string) =>
      new pg.Pool({ connectionString: urlAs(roles.tenantApp), options: `-c app.tenant=${tenant}`, max: 2 });
    tenant1 = kysely(tenantPool("t1"));
    tenant2 = kysely(tenantPool("t2"));
    onePool = kysely(new pg.Pool({ connectionString: urlAs(roles.tenantApp), max: 2 }));
  });

  const documents = (db: Kysely<BoundaryDatabase>, scope?: string) =>
    db
      .selectFrom("documents")
      .select(["id", "title"])
      .orderBy("id")
      .$call(cached(scope === undefined ? {} : { scope }))
      .execute();

  it("without a scope the read is not cached: each tenant gets its own rows from the database", async () => {
    const before = watch.stats();
    expect(titles(await documents(tenant1))).toEqual(["one of t1", "two of t1"]);
    expect(titles(await documents(tenant2))).toEqual(["one of t2"]);
    expect(titles(await documents(tenant1))).toEqual(["one of t1", "two of t1"]);
    expect(watch.stats().hits).toBe(before.hits);
    expect(watch.stats().fillsUncacheable).toBe(before.fillsUncacheable + 3);
  });

  it("with scope: tenant, each tenant gets only its rows, from the cache on the second read", async () => {
    const before = watch.stats();
    expect(titles(await documents(tenant1, "t1"))).toEqual(["one of t1", "two of t1"]);
    expect(titles(await documents(tenant2, "t2"))).toEqual(["one of t2"]);
    expect(titles(await documents(tenant2, "t2"))).toEqual(["one of t2"]);
    expect(titles(await documents(tenant1, "t1"))).toEqual(["one of t1", "two of t1"]);
    expect(watch.stats().hits).toBe(before.hits + 2);
    expect(watch.stats().loads).toBe(before.loads + 2);

    const changed = changeOf(watch, "public.documents");
    await writer.query("INSERT INTO documents VALUES (4, 't2', 'two of t2')");
    await changed;
    expect(titles(await documents(tenant2, "t2"))).toEqual(["one of t2", "two of t2"]);
    expect(titles(await documents(tenant1, "t1"))).toEqual(["one of t1", "two of t1"]);
  });

  it("one pool, the tenant set per request on a reserved connection: cached per scope", async () => {
    const asTenant = (tenant: string) =>
      onePool.connection().execute(async (conn) => {
        await sql`select set_config('app.tenant', ${tenant}, false)`.execute(conn);
        const rows = await documents(conn, tenant);
        await sql`reset app.tenant`.execute(conn);
        return titles(rows);
      });
    const before = watch.stats();
    expect(await asTenant("t1")).toEqual(["one of t1", "two of t1"]);
    expect(await asTenant("t2")).toEqual(["one of t2", "two of t2"]);
    expect(await asTenant("t1")).toEqual(["one of t1", "two of t1"]);
    expect(await asTenant("t2")).toEqual(["one of t2", "two of t2"]);
    // The tenants' entries are the per-tenant pools' too (same role, same search_path, same scope).
    expect(watch.stats().loads).toBe(before.loads);
    expect(watch.stats().hits).toBe(before.hits + 4);
  });
});

describe("roles: two pools with different credentials and column privileges", () => {
  let full: Kysely<BoundaryDatabase>;
  let limited: Kysely<BoundaryDatabase>;

  beforeAll(() => {
    full = kysely(new pg.Pool({ connectionString: urlAs(roles.fullReader), max: 2 }));
    limited = kysely(new pg.Pool({ connectionString: urlAs(roles.limitedReader), max: 2 }));
  });

  it("never share entries: the limited role is refused the column it may not read, even after a fill", async () => {
    const everything = (db: Kysely<BoundaryDatabase>) =>
      db.selectFrom("people").selectAll().orderBy("id").$call(cached()).execute();
    expect(await everything(full)).toEqual([{ id: 1, name: "ada", email: "ada@example.org" }]);
    expect(await everything(full)).toHaveLength(1);
    await expect(everything(limited)).rejects.toThrow(/permission denied/);

    const names = (db: Kysely<BoundaryDatabase>) =>
      db.selectFrom("people").select(["id", "name"]).orderBy("id").$call(cached()).execute();
    const before = watch.stats();
    expect(await names(limited)).toEqual([{ id: 1, name: "ada" }]);
    expect(await names(limited)).toEqual([{ id: 1, name: "ada" }]);
    expect(await names(full)).toEqual([{ id: 1, name: "ada" }]);
    // One entry per role.
    expect(watch.stats().loads).toBe(before.loads + 2);
    expect(watch.stats().hits).toBe(before.hits + 1);
  });
});

describe("SET ROLE on a pooled connection", () => {
  it("a read under the switched role is not stored under the pool's role; after RESET ROLE caching resumes", async () => {
    // One connection, so every query lands on the session that switched.
    const db = kysely(new pg.Pool({ connectionString: urlAs(roles.limitedReader), max: 1 }));
    const everything = () => db.selectFrom("people").selectAll().orderBy("id").$call(cached()).execute();
    await sql`set role ${sql.id(roles.fullReader)}`.execute(db);
    const before = watch.stats();
    expect(await everything()).toEqual([{ id: 1, name: "ada", email: "ada@example.org" }]);
    expect(await everything()).toHaveLength(1);
    expect(watch.stats().hits).toBe(before.hits);
    await sql`reset role`.execute(db);
    // Back to the pool's role: the email column is refused, not served from the switched read.
    await expect(everything()).rejects.toThrow(/permission denied/);
    // A query no other test ran: its hit is this session's own fill.
    const names = () => db.selectFrom("people").select("name").orderBy("name").$call(cached()).execute();
    await names();
    await names();
    expect(watch.stats().hits).toBe(before.hits + 1);
  });
});

describe("search_path: two pools, the same SQL text, same-named tables a.items and b.items", () => {
  let inA: Kysely<BoundaryDatabase>;
  let inB: Kysely<BoundaryDatabase>;

  beforeAll(() => {
    const poolWithPath = (schema: string) =>
      new pg.Pool({ connectionString: database.url, options: `-c search_path=${schema}`, max: 2 });
    inA = kysely(poolWithPath("a"));
    inB = kysely(poolWithPath("b"));
  });

  const items = (db: Kysely<BoundaryDatabase>) =>
    db.selectFrom("items").select(["id", "label"]).orderBy("id").$call(cached()).execute();

  it("gives different entries, each invalidated by a write to its own table", async () => {
    const before = watch.stats();
    expect(await items(inA)).toEqual([{ id: 1, label: "in schema a" }]);
    expect(await items(inB)).toEqual([{ id: 1, label: "in schema b" }]);
    expect(await items(inA)).toEqual([{ id: 1, label: "in schema a" }]);
    expect(await items(inB)).toEqual([{ id: 1, label: "in schema b" }]);
    expect(watch.stats().loads).toBe(before.loads + 2);
    expect(watch.stats().hits).toBe(before.hits + 2);

    const changedA = changeOf(watch, "a.items");
    await writer.query("UPDATE a.items SET label = 'changed in a'");
    await changedA;
    expect(await items(inB)).toEqual([{ id: 1, label: "in schema b" }]);
    expect(watch.stats().hits).toBe(before.hits + 3);
    expect(await items(inA)).toEqual([{ id: 1, label: "changed in a" }]);

    const changedB = changeOf(watch, "b.items");
    await writer.query("UPDATE b.items SET label = 'changed in b'");
    await changedB;
    expect(await items(inB)).toEqual([{ id: 1, label: "changed in b" }]);
    expect(await items(inA)).toEqual([{ id: 1, label: "changed in a" }]);
    expect(watch.stats().loads).toBe(before.loads + 4);
  });
});

describe("SET search_path on a pooled connection", () => {
  it("its reads are not stored, its writes invalidate the table they really write, RESET restores caching", async () => {
    const inB = kysely(new pg.Pool({ connectionString: database.url, options: "-c search_path=b", max: 1 }));
    // One connection, starting in schema a.
    const db = kysely(new pg.Pool({ connectionString: database.url, options: "-c search_path=a", max: 1 }));
    // A text no other test ran: no entry of the pool's identity exists for it yet.
    const labels = (k: Kysely<BoundaryDatabase>) =>
      k.selectFrom("items").select("label").orderBy("label").$call(cached()).execute();
    const inSchemaB = await labels(inB);
    await sql`set search_path to b`.execute(db);
    const before = watch.stats();
    expect(await labels(db)).toEqual(inSchemaB);
    expect(await labels(db)).toEqual(inSchemaB);
    expect(watch.stats().hits).toBe(before.hits);

    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "mutation");
    await db.updateTable("items").set({ label: "written through b" }).execute();
    expect((await invalidated)[0].tables).toEqual(["b.items"]);
    expect(await labels(inB)).toEqual([{ label: "written through b" }]);

    await sql`reset search_path`.execute(db);
    expect(await labels(db)).toEqual((await writer.query("SELECT label FROM a.items ORDER BY label")).rows);
    await labels(db);
    expect(watch.stats().hits).toBe(before.hits + 1);
  });
});

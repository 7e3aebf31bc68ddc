import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { createTestRoles, urlAs } from "./support/test-roles.js";
import { nextEvent } from "./support/wait.js";

// Row-level security: two tenants under a policy keyed on current_setting('app.tenant'), read by
// a non-superuser role (superusers bypass RLS) through two pools that differ only in the setting.

const db = useTestDatabase("boundaries_rls");
let watch: CacheWatch;
let writer: pg.Client;
let roles: Awaited<ReturnType<typeof createTestRoles<"tenant_app">>>;
const pools: pg.Pool[] = [];
let tenant1: pg.Pool;
let tenant2: pg.Pool;

const DOCUMENTS = "SELECT id, title FROM documents ORDER BY id";

beforeAll(async () => {
  writer = await db.externalWriter();
  roles = await createTestRoles(writer, db.name, ["tenant_app"]);
  await writer.query(`
    CREATE TABLE documents (id int PRIMARY KEY, tenant text NOT NULL, title text NOT NULL);
    INSERT INTO documents VALUES (1, 't1', 'one of t1'), (2, 't2', 'one of t2'), (3, 't1', 'two of t1');
    ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
    ALTER TABLE documents FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_rows ON documents USING (tenant = current_setting('app.tenant', true));
    GRANT SELECT ON documents TO "${roles.names.tenant_app}";
  `);
  await createTestTrigger(writer, "documents");
  const tenantPool = (tenant: string) => {
    const pool = new pg.Pool({
      connectionString: urlAs(db.url, roles.names.tenant_app),
      options: `-c app.tenant=${tenant}`,
      max: 2,
    });
    pools.push(pool);
    return pool;
  };
  tenant1 = tenantPool("t1");
  tenant2 = tenantPool("t2");
  watch = createCacheWatch({ connectionString: db.url });
  await watch.start();
});

afterAll(async () => {
  await watch?.stop();
  for (const pool of pools) await pool.end();
  await roles?.drop();
});

const titles = async (pool: pg.Pool, scope?: string) =>
  (await watch.query<{ title: string }>(pool, DOCUMENTS, [], scope === undefined ? {} : { scope })).rows.map(
    (row) => row.title,
  );

describe("two tenants under row-level security", () => {
  it("without a scope the read is not cached: each tenant gets its own rows, every time from the database", async () => {
    const reasons: string[] = [];
    watch.on("uncached", (info) => reasons.push(info.reason));
    const before = watch.stats();
    expect(await titles(tenant1)).toEqual(["one of t1", "two of t1"]);
    expect(await titles(tenant2)).toEqual(["one of t2"]);
    expect(await titles(tenant1)).toEqual(["one of t1", "two of t1"]);
    expect(watch.stats().hits).toBe(before.hits);
    expect(watch.stats().fillsUncacheable).toBe(before.fillsUncacheable + 3);
    expect(reasons[0]).toMatch(/row-level security/);
  });

  it("with scope: tenant, each tenant gets only its rows, from the cache on the second read", async () => {
    const before = watch.stats();
    expect(await titles(tenant1, "t1")).toEqual(["one of t1", "two of t1"]);
    expect(await titles(tenant2, "t2")).toEqual(["one of t2"]);
    expect(await titles(tenant2, "t2")).toEqual(["one of t2"]);
    expect(await titles(tenant1, "t1")).toEqual(["one of t1", "two of t1"]);
    expect(watch.stats().hits).toBe(before.hits + 2);
    expect(watch.stats().loads).toBe(before.loads + 2);

    // An external write drops both tenants' entries (the dependency is the table).
    const dropped = nextEvent(watch, "invalidate", (info) => info.tables.includes("public.documents"));
    await writer.query("INSERT INTO documents VALUES (4, 't2', 'two of t2')");
    await dropped;
    expect(await titles(tenant2, "t2")).toEqual(["one of t2", "two of t2"]);
    expect(await titles(tenant1, "t1")).toEqual(["one of t1", "two of t1"]);
    expect(watch.stats().loads).toBe(before.loads + 4);
  });
});

/**
 * Two callers that share one engine must never see each other's rows: what shapes a result on one
 * client (its global omit, extensions around ours) is part of the key.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { installTriggers } from "@pgcachewatch/core/triggers";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgCacheWatch } from "../src/index.js";
import { Prisma, PrismaClient } from "./generated/client/client.js";
import {
  CHANNEL,
  expectInvalidation,
  openPrismaFixture,
  type PrismaFixture,
  statsDelta,
} from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_boundaries");
let fx: PrismaFixture;
const clients: PrismaClient[] = [];

beforeAll(async () => {
  fx = await openPrismaFixture(db);
});
beforeEach(async () => {
  await fx.settle();
});
afterAll(async () => {
  for (const client of clients) await client.$disconnect();
  await fx?.close();
});

function client(options: { adapter: PrismaPg; omit?: Prisma.GlobalOmitConfig }): PrismaClient {
  const created = new PrismaClient(options);
  clients.push(created);
  return created;
}

describe("two clients with different global omit share one engine", () => {
  const adapter = () => new PrismaPg({ connectionString: db.url });

  it.each([
    ["the omitting client reads first", 1, true],
    ["the full client reads first", 2, false],
  ])("%s: neither gets the other's rows", async (_name, id, publicFirst) => {
    const shared = adapter();
    const publicClient = client({ adapter: shared, omit: { user: { email: true } } }).$extends(
      pgCacheWatch({ watch: fx.watch }),
    );
    const fullClient = client({ adapter: shared }).$extends(pgCacheWatch({ watch: fx.watch }));
    const readPublic = () => publicClient.user.findUnique({ where: { id } });
    const readFull = () => fullClient.user.findUnique({ where: { id } });
    const order = publicFirst ? [readPublic, readFull] : [readFull, readPublic];
    for (const read of order) expect((await statsDelta(fx.watch, read)).misses).toBe(1);

    const publicRow = await statsDelta(fx.watch, readPublic);
    const fullRow = await statsDelta(fx.watch, readFull);
    expect(publicRow.hits).toBe(1);
    expect(fullRow.hits).toBe(1);
    expect(publicRow.value).not.toHaveProperty("email");
    expect(fullRow.value).toHaveProperty("email", expect.stringContaining("@example.com"));
    // Relations are shaped by the global omit too.
    const publicPost = await publicClient.post.findUnique({ where: { id: 1 }, include: { author: true } });
    const fullPost = await fullClient.post.findUnique({ where: { id: 1 }, include: { author: true } });
    expect(publicPost?.author).not.toHaveProperty("email");
    expect(fullPost?.author).toHaveProperty("email");
  });

  it("a computed field's needs shape the selection: a client without it is not served its rows", async () => {
    const shared = adapter();
    const plain = client({ adapter: shared }).$extends(pgCacheWatch({ watch: fx.watch }));
    const labelled = client({ adapter: shared })
      .$extends(pgCacheWatch({ watch: fx.watch }))
      .$extends({
        result: { user: { label: { needs: { displayName: true }, compute: (u) => `@${u.displayName}` } } },
      });
    // Same arguments on both: the labelled client still selects display_name (its computed field
    // needs it) and hides it afterwards; the plain client must not receive that row.
    const args = { where: { id: 2 }, omit: { displayName: true } } as const;
    const fromLabelled = await labelled.user.findUnique(args);
    expect(fromLabelled?.label).toBe("@Bob");
    const fromPlain = await statsDelta(fx.watch, () => plain.user.findUnique(args));
    expect(fromPlain.misses).toBe(1);
    expect(Object.keys(fromPlain.value ?? {})).not.toContain("displayName");
  });
});

/** A tenant-scoping extension: every post query is limited to the tenant's posts (tenant = author). */
function tenantScope(tenant: number) {
  return Prisma.defineExtension({
    name: `tenant-${tenant}`,
    query: {
      post: {
        $allOperations({ args, query }) {
          const scoped = args as { where?: object };
          return query({ ...scoped, where: { ...scoped.where, authorId: tenant } } as typeof args);
        },
      },
    },
  });
}

describe("a query extension around ours is never skipped on a hit", () => {
  it.each([
    ["added after pgCacheWatch()", "after"],
    ["added before pgCacheWatch()", "before"],
  ])("tenant scoping %s: tenant 2 never gets tenant 1's posts", async (_name, order) => {
    const base = client({ adapter: new PrismaPg({ connectionString: db.url }) });
    const forTenant = (tenant: number) =>
      order === "after"
        ? base.$extends(pgCacheWatch({ watch: fx.watch })).$extends(tenantScope(tenant))
        : base.$extends(tenantScope(tenant)).$extends(pgCacheWatch({ watch: fx.watch }));
    const tenant1 = forTenant(1);
    const tenant2 = forTenant(2);
    // Each order its own query text, so the second case cannot be served by the first one's entries.
    const take = order === "after" ? 10 : 20;
    const titles = async (read: Promise<{ title: string }[]>) => (await read).map((p) => p.title).sort();
    const read1 = () =>
      titles(tenant1.post.findMany({ orderBy: { id: "asc" }, where: { published: true }, take }));
    const read2 = () =>
      titles(tenant2.post.findMany({ orderBy: { id: "asc" }, where: { published: true }, take }));

    const first1 = await statsDelta(fx.watch, read1);
    expect(first1.misses).toBe(1);
    expect(first1.value).toEqual(["Hello"]);
    const first2 = await statsDelta(fx.watch, read2);
    expect(first2.misses).toBe(1);
    expect(first2.value).toEqual(["By Bob"]);
    // Each tenant's own entry serves it.
    const again1 = await statsDelta(fx.watch, read1);
    const again2 = await statsDelta(fx.watch, read2);
    expect([again1.hits, again2.hits]).toEqual([1, 1]);
    expect(again1.value).toEqual(["Hello"]);
    expect(again2.value).toEqual(["By Bob"]);
    // Counting goes through the extension too.
    expect(await tenant2.post.count({ where: { published: true } })).toBe(1);
    expect(await tenant1.post.count({ where: { published: true } })).toBe(1);
    expect(await tenant1.post.count()).toBe(2);
  });
});

describe("row-level security: session-dependent reads are cached only with a scope, one entry per scope", () => {
  it("an RLS table read through $queryRaw is not cached; with a scope each scope has its own entry", async () => {
    await fx.writer.query(`
      CREATE TABLE public.notes (id int PRIMARY KEY, tenant text NOT NULL, body text NOT NULL);
      INSERT INTO public.notes VALUES (1, 'a', 'for a'), (2, 'b', 'for b');
      ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_notes ON public.notes USING (tenant = current_setting('app.tenant', true));
    `);
    await installTriggers(fx.writer, { tables: ["notes"], channel: CHANNEL });
    const query = Prisma.sql`SELECT body FROM public.notes ORDER BY id`;
    await fx.prisma.$queryRaw(query);
    const unscoped = await statsDelta(fx.watch, () => fx.prisma.$queryRaw(query));
    expect(unscoped.hits + unscoped.misses).toBe(0);

    const read = (scope: string) => statsDelta(fx.watch, () => fx.prisma.$queryRawCached(query, { scope }));
    expect((await read("tenant-a")).misses).toBe(1);
    expect((await read("tenant-a")).hits).toBe(1);
    expect((await read("tenant-b")).misses).toBe(1);
    expect((await read("tenant-b")).hits).toBe(1);
    await expectInvalidation(fx.watch, "public.notes", () =>
      fx.writer.query("UPDATE public.notes SET body = 'changed' WHERE id = 1"),
    );
    expect((await read("tenant-a")).misses).toBe(1);
    expect((await read("tenant-b")).misses).toBe(1);
  });

  it("the extension's scope function keys every read by the caller's scope", async () => {
    const tenant = new AsyncLocalStorage<string>();
    const scoped = client({ adapter: new PrismaPg({ connectionString: db.url }) }).$extends(
      pgCacheWatch({ watch: fx.watch, scope: () => tenant.getStore() }),
    );
    const read = (scope: string) =>
      tenant.run(scope, () =>
        statsDelta(fx.watch, () => scoped.tag.findMany({ where: { id: { lt: 100 } } })),
      );
    expect((await read("a")).misses).toBe(1);
    expect((await read("b")).misses).toBe(1);
    expect((await read("a")).hits).toBe(1);
    expect((await read("b")).hits).toBe(1);
    await expect(scoped.tag.findMany({ cache: { scope: 1 as unknown as string } })).rejects.toMatchObject({
      code: "INVALID_CACHE_OPTION",
    });
  });
});

describe("connections: who a client connects as and its search_path are part of the key", () => {
  it("two pools with different search_path and same-named tables: own rows, own invalidations", async () => {
    await fx.writer.query(`
      CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b;
      CREATE TABLE tenant_a.things (name text NOT NULL); CREATE TABLE tenant_b.things (name text NOT NULL);
      INSERT INTO tenant_a.things VALUES ('a thing'); INSERT INTO tenant_b.things VALUES ('b thing');
    `);
    await installTriggers(fx.writer, {
      tables: [
        { schema: "tenant_a", table: "things" },
        { schema: "tenant_b", table: "things" },
      ],
      channel: CHANNEL,
    });
    const onPath = (schema: string) =>
      client({
        adapter: new PrismaPg({ connectionString: db.url, options: `-c search_path=${schema}` }),
      }).$extends(pgCacheWatch({ watch: fx.watch }));
    const a = onPath("tenant_a");
    const b = onPath("tenant_b");
    const read = (p: typeof a) =>
      statsDelta(fx.watch, () => p.$queryRaw<{ name: string }[]>`SELECT name FROM things`);
    expect(await read(a)).toMatchObject({ misses: 1, value: [{ name: "a thing" }] });
    expect(await read(b)).toMatchObject({ misses: 1, value: [{ name: "b thing" }] });
    expect(await read(a)).toMatchObject({ hits: 1, value: [{ name: "a thing" }] });
    expect(await read(b)).toMatchObject({ hits: 1, value: [{ name: "b thing" }] });
    // The unqualified name was resolved with each pool's search_path: tenant_a's write drops a's entry only.
    await expectInvalidation(fx.watch, "tenant_a.things", () =>
      fx.writer.query("INSERT INTO tenant_a.things VALUES ('another a thing')"),
    );
    expect((await read(a)).misses).toBe(1);
    expect((await read(b)).hits).toBe(1);
    // And a write through the pool itself invalidates the right table at once.
    await a.$executeRaw`INSERT INTO things VALUES ('written through a')`;
    expect(await read(a)).toMatchObject({
      misses: 1,
      value: expect.arrayContaining([{ name: "written through a" }]),
    });
  });

  it("two roles with different column privileges: the restricted role is never served the other's rows", async () => {
    const role = `pgcw_reader_${process.pid}`;
    await fx.writer.query(`
      CREATE ROLE ${role} LOGIN PASSWORD 'reader';
      GRANT USAGE ON SCHEMA public TO ${role};
      GRANT SELECT (id, display_name) ON public.users TO ${role};
    `);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = "reader";
      const full = client({ adapter: new PrismaPg({ connectionString: db.url }) }).$extends(
        pgCacheWatch({ watch: fx.watch }),
      );
      const reader = client({ adapter: new PrismaPg({ connectionString: url.toString() }) }).$extends(
        pgCacheWatch({ watch: fx.watch }),
      );
      const args = { where: { id: 1 }, select: { id: true, email: true } } as const;
      expect(await full.user.findUnique(args)).toMatchObject({ email: expect.any(String) });
      expect((await statsDelta(fx.watch, () => full.user.findUnique(args))).hits).toBe(1);
      await expect(reader.user.findUnique(args)).rejects.toThrow(/denied/);
      const rawEmail = () => Prisma.sql`SELECT email FROM public.users WHERE id = 1`;
      await full.$queryRaw(rawEmail());
      await expect(reader.$queryRaw(rawEmail())).rejects.toThrow(/denied/);
      // What the reader may read is cached for the reader.
      const names = () =>
        reader.user.findMany({ select: { id: true, displayName: true }, orderBy: { id: "asc" } });
      await names();
      expect((await statsDelta(fx.watch, names)).hits).toBe(1);
    } finally {
      for (const c of clients.splice(0)) await c.$disconnect();
      await fx.writer.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgCacheWatch } from "../src/index.js";
import { PrismaClient } from "./generated/client/client.js";
import {
  expectInvalidation,
  openPrismaFixture,
  type PrismaFixture,
  statsDelta,
} from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_setup");
let fx: PrismaFixture;

beforeAll(async () => {
  fx = await openPrismaFixture(db);
});
beforeEach(async () => {
  await fx.settle();
});
afterAll(async () => {
  await fx?.close();
});

describe("setup", () => {
  it("prisma.$extends(pgCacheWatch()) with no arguments listens on DATABASE_URL and caches", async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = db.url;
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    try {
      const prisma = base.$extends(pgCacheWatch());
      const again = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) }).$extends(
        pgCacheWatch(),
      );
      // One engine per connection string, shared by every client extended with it.
      expect(again.$cacheWatch).toBe(prisma.$cacheWatch);
      await again.$disconnect();
      await prisma.$cacheWatch.ready;
      const read = () => prisma.user.findMany({ orderBy: { id: "asc" } });
      expect((await statsDelta(prisma.$cacheWatch, read)).misses).toBe(1);
      expect((await statsDelta(prisma.$cacheWatch, read)).hits).toBe(1);
      await expectInvalidation(prisma.$cacheWatch, "public.users", () =>
        fx.writer.query("UPDATE public.users SET display_name = 'Shared' WHERE id = 1"),
      );
      expect(await read()).toContainEqual(expect.objectContaining({ displayName: "Shared" }));
      await prisma.$cacheWatch.stop();
    } finally {
      process.env.DATABASE_URL = saved;
      await base.$disconnect();
    }
  });

  it("without an engine, a connection string or DATABASE_URL it fails with a typed error", () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    try {
      expect(() => base.$extends(pgCacheWatch())).toThrow(
        expect.objectContaining({ code: "MISSING_CONNECTION_STRING" }),
      );
    } finally {
      process.env.DATABASE_URL = saved;
    }
  });

  it("caches only the configured models and operations; writes to any model still invalidate", async () => {
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    const prisma = base.$extends(pgCacheWatch({ watch: fx.watch, models: ["Tag"], operations: ["count"] }));
    try {
      await prisma.user.count();
      expect((await statsDelta(fx.watch, () => prisma.user.count())).hits).toBe(0);
      await prisma.tag.findMany();
      expect((await statsDelta(fx.watch, () => prisma.tag.findMany())).hits).toBe(0);
      await prisma.tag.count();
      expect((await statsDelta(fx.watch, () => prisma.tag.count())).hits).toBe(1);
      await prisma.tag.create({ data: { name: "configured" } });
      expect((await statsDelta(fx.watch, () => prisma.tag.count())).misses).toBe(1);
    } finally {
      await base.$disconnect();
    }
  });

  it("a default ttl expires entries as a safety net", async () => {
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    const prisma = base.$extends(pgCacheWatch({ watch: fx.watch, ttl: 1, namespace: "short-lived" }));
    try {
      await prisma.post.count();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await statsDelta(fx.watch, () => prisma.post.count())).misses).toBe(1);
      // The per-call ttl overrides the extension's.
      const longLived = () => prisma.post.count({ where: { id: { gt: 0 } }, cache: { ttl: 600_000 } });
      await longLived();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await statsDelta(fx.watch, longLived)).hits).toBe(1);
      expect(() =>
        base.$extends(pgCacheWatch({ watch: fx.watch, operations: ["create" as unknown as "count"] })),
      ).toThrow(expect.objectContaining({ code: "INVALID_CACHE_OPTION" }));
      expect(() => base.$extends(pgCacheWatch({ watch: fx.watch, ttl: -5 }))).toThrow(
        expect.objectContaining({ code: "INVALID_CACHE_OPTION" }),
      );
    } finally {
      await base.$disconnect();
    }
  });
});

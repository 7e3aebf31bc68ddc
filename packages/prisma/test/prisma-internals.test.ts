/**
 * Pins every Prisma internal @pgcachewatch/prisma reads (see src/prisma-internals.ts). When Prisma
 * changes one of them, this file fails with the name of the internal; re-verify before upgrading.
 */
import { createRequire } from "node:module";
import { createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  onInteractiveTransactionEnd,
  readAdapterFactory,
  readAdapterSchema,
  readOriginalArgs,
  readRuntimeDataModel,
  readTransactionMarker,
  type TransactionMarker,
  VERIFIED_PRISMA_VERSIONS,
} from "../src/prisma-internals.js";
import { SqlObserver, tablesInSql } from "../src/sql-observer.js";
import { PrismaClient } from "./generated/client/client.js";
import { openPrismaFixture, type PrismaFixture } from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_internals");
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

describe("Prisma internals the adapter depends on", () => {
  it(`the installed Prisma is the verified release (${VERIFIED_PRISMA_VERSIONS}.x)`, () => {
    const require = createRequire(import.meta.url);
    const client = require("@prisma/client/package.json") as { version: string };
    expect(client.version.startsWith(`${VERIFIED_PRISMA_VERSIONS}.`)).toBe(true);
    expect(readRuntimeDataModel(fx.base).models.User).toBeDefined();
  });

  it("client._runtimeDataModel: dbName (@@map), schema (@@schema), relation fields with relationName", () => {
    const model = readRuntimeDataModel(fx.base);
    expect(model.models.User).toMatchObject({ dbName: "users", schema: "public" });
    expect(model.models.Tag).toMatchObject({ dbName: null, schema: "public" });
    expect(model.models.Profile).toMatchObject({ dbName: null, schema: "audit" });
    expect(model.models.Measurement).toMatchObject({ dbName: "measurements", schema: "audit" });
    expect(model.models.Post?.fields).toContainEqual(
      expect.objectContaining({ name: "tags", kind: "object", type: "Tag", relationName: "PostToTag" }),
    );
    expect(model.models.User?.fields).toContainEqual(
      expect.objectContaining({ name: "reports", kind: "object", type: "User", relationName: "Management" }),
    );
    expect(() => readRuntimeDataModel({})).toThrow(
      expect.objectContaining({ code: "PRISMA_INTERNALS_CHANGED" }),
    );
  });

  it("__internalParams.transaction marks interactive and batch transactions; __internalParams.args keeps identity", async () => {
    const markers: Array<TransactionMarker | undefined> = [];
    const originals: unknown[] = [];
    const spy = fx.base.$extends({
      query: {
        $allModels: {
          $allOperations(call) {
            const internal = (call as unknown as { __internalParams: unknown }).__internalParams;
            markers.push(readTransactionMarker(internal));
            originals.push(readOriginalArgs(internal));
            return call.query(call.args);
          },
        },
      },
    });
    const args = { where: { id: 1 } };
    await spy.user.findUnique(args);
    let itxId = "";
    await spy.$transaction(async (tx) => {
      await tx.user.count();
    });
    await spy.$transaction([spy.user.count()]);
    expect(markers[0]).toBeUndefined();
    expect(originals[0]).toBe(args);
    expect(markers[1]).toMatchObject({ kind: "itx", id: expect.any(String) });
    itxId = (markers[1] as { id: string }).id;
    expect(itxId.length).toBeGreaterThan(0);
    expect(markers[2]).toEqual({ kind: "batch" });
    // Unknown shapes never read as "outside a transaction".
    expect(readTransactionMarker(undefined)).toEqual({ kind: "unknown" });
    expect(readTransactionMarker({ transaction: { kind: "something-new" } })).toEqual({ kind: "unknown" });
  });

  it("client._engine.transaction reports commit and rollback with the interactive transaction's id", async () => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    try {
      const ended: string[] = [];
      expect(onInteractiveTransactionEnd(client, (id) => ended.push(id))).toBe(true);
      const ids: string[] = [];
      const spy = client.$extends({
        query: {
          $allModels: {
            $allOperations(call) {
              const marker = readTransactionMarker(
                (call as unknown as { __internalParams: unknown }).__internalParams,
              );
              if (marker?.kind === "itx") ids.push(marker.id);
              return call.query(call.args);
            },
          },
        },
      });
      await spy.$transaction(async (tx) => tx.user.count());
      await spy
        .$transaction(async (tx) => {
          await tx.user.count();
          throw new Error("rollback");
        })
        .catch(() => {});
      expect(ids).toHaveLength(2);
      expect(ended).toEqual(ids);
    } finally {
      await client.$disconnect();
    }
  });

  it("client._engineConfig.adapter is the driver adapter factory, observable per async context", async () => {
    const factory = new PrismaPg({ connectionString: db.url }, { schema: "public" });
    const client = new PrismaClient({ adapter: factory });
    try {
      expect(readAdapterFactory(client)).toBe(factory);
      expect(readAdapterSchema(factory)).toBe("public");
      const observer = SqlObserver.for(factory);
      const { statements } = await observer.observe(() =>
        client.post.findMany({ include: { tags: true, author: { include: { profile: true } } } }),
      );
      expect(observer.active).toBe(true);
      const tables = tablesInSql(statements).map((t) => `${t.schema}.${t.table}`);
      expect(tables.sort()).toEqual([
        "audit.Profile",
        "public.Tag",
        "public._PostToTag",
        "public.posts",
        "public.users",
      ]);
      // A query outside any observed scope is not attributed to one.
      const outside = await observer.observe(async () => 1);
      await client.user.count();
      expect(outside.statements).toEqual([]);
    } finally {
      await client.$disconnect();
    }
  });

  it("the `cache` argument is taken out in the query hook: extensions before and after all run, transactions hold", async () => {
    const watch = createCacheWatch({ source: "none" });
    await watch.start();
    const seen = { before: [] as unknown[], after: [] as unknown[] };
    const { pgCacheWatch } = await import("../src/index.js");
    const record = (into: unknown[]) => ({
      query: {
        $allModels: {
          $allOperations({ args, query }: { args: unknown; query: (args: unknown) => Promise<unknown> }) {
            into.push(args);
            return query(args);
          },
        },
      },
    });
    const prisma = fx.base
      .$extends(record(seen.before))
      .$extends(pgCacheWatch({ watch }))
      .$extends(record(seen.after));
    try {
      await prisma.tag.findMany({ where: { id: 1 }, cache: { ttl: 1000 } });
      // Prisma runs query hooks in the order the extensions were added: the one added before ours sees
      // the option and passes it on; ours takes it out; the one added after never sees it.
      expect(seen.before).toEqual([{ where: { id: 1 }, cache: { ttl: 1000 } }]);
      expect(seen.after).toEqual([{ where: { id: 1 } }]);
      await prisma
        .$transaction(async (tx) => {
          await tx.tag.create({ data: { name: "inside" } });
          expect(await tx.tag.findMany({ where: { name: "inside" }, cache: { ttl: 1000 } })).toHaveLength(1);
          throw new Error("rollback");
        })
        .catch(() => {});
      expect(await prisma.tag.findMany({ where: { name: "inside" } })).toHaveLength(0);
    } finally {
      await watch.stop();
    }
  });
});

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
  type ExecuteRequest,
  type PrismaRequest,
  readAdapterFactory,
  readComputedFields,
  readExtensions,
  readGlobalOmit,
  readModelNames,
  readOriginalArgs,
  readTransactionMarker,
  type TransactionMarker,
  VERIFIED_PRISMA_VERSIONS,
  wrapExecuteRequest,
} from "../src/prisma-internals.js";
import { StatementRouter } from "../src/sql-observer.js";
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
    expect(readModelNames(fx.base)).toEqual(expect.arrayContaining(["User", "Post", "Tag", "Profile"]));
    expect(() => readModelNames({})).toThrow(expect.objectContaining({ code: "PRISMA_INTERNALS_CHANGED" }));
  });

  it("client._originalClient._executeRequest gets every call after all query extensions, as __internalParams", async () => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    try {
      const hookParams: unknown[] = [];
      const requests: PrismaRequest[] = [];
      const extended = client
        .$extends({
          query: {
            $allModels: {
              $allOperations(call) {
                hookParams.push((call as unknown as { __internalParams: unknown }).__internalParams);
                return call.query(call.args);
              },
            },
          },
        })
        .$extends({
          query: {
            $allModels: {
              $allOperations({ args, query }) {
                return query({ ...(args as object), where: { id: 2 } });
              },
            },
          },
        });
      wrapExecuteRequest(
        extended,
        (original: ExecuteRequest) =>
          function (this: unknown, request: PrismaRequest) {
            requests.push(request);
            return original.call(this, request);
          },
      );
      // Once per client: a second wrap is a no-op.
      wrapExecuteRequest(client, (original) => original);
      const row = await extended.user.findFirst({ where: { id: 1 } });
      expect(row?.id).toBe(2);
      expect(requests).toHaveLength(1);
      expect(requests[0]).toBe(hookParams[0]);
      expect(requests[0]).toMatchObject({
        clientMethod: "user.findFirst",
        action: "findFirst",
        model: "User",
        args: { where: { id: 2 } },
        dataPath: [],
      });
      // The raw query methods reach it too, with Prisma's Sql object.
      await extended.$queryRaw`SELECT ${1}::int AS one`;
      expect(requests[1]).toMatchObject({ clientMethod: "$queryRaw", args: { strings: expect.any(Array) } });
      expect(() => wrapExecuteRequest({}, (original) => original)).toThrow(
        expect.objectContaining({ code: "PRISMA_INTERNALS_CHANGED" }),
      );
    } finally {
      await client.$disconnect();
    }
  });

  it("client._globalOmit is the client's omit option; _extensions lists computed fields and their needs", async () => {
    const client = new PrismaClient({
      adapter: new PrismaPg({ connectionString: db.url }),
      omit: { user: { email: true } },
    });
    try {
      const extended = client.$extends({
        result: { user: { label: { needs: { displayName: true }, compute: (u) => `@${u.displayName}` } } },
      });
      expect(readGlobalOmit(extended)).toEqual({ user: { email: true } });
      expect(readGlobalOmit(fx.base)).toBeUndefined();
      expect(readComputedFields(readExtensions(extended), "User")).toEqual({ label: ["displayName"] });
      expect(readComputedFields(readExtensions(client), "User")).toEqual({});
      expect(() => readExtensions({})).toThrow(expect.objectContaining({ code: "PRISMA_INTERNALS_CHANGED" }));
    } finally {
      await client.$disconnect();
    }
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

  it("client._engineConfig.adapter is the driver adapter factory; its connection and transactions report every statement", async () => {
    const factory = new PrismaPg({ connectionString: db.url });
    const client = new PrismaClient({ adapter: factory });
    const seen: Array<{ sql: string; connection: object | undefined; inTransaction: boolean }> = [];
    const begun: object[] = [];
    const ended: object[] = [];
    const watch = {
      runStatement(statement: { sql: string; connection?: object }, run: () => Promise<unknown>) {
        seen.push({
          sql: statement.sql,
          connection: statement.connection,
          inTransaction: statement.connection !== undefined && begun.includes(statement.connection),
        });
        return run();
      },
      beginTransaction: (tx: object) => begun.push(tx),
      endTransaction: (tx: object) => ended.push(tx),
    };
    try {
      expect(readAdapterFactory(client)).toBe(factory);
      StatementRouter.for(factory).add(watch as unknown as Parameters<StatementRouter["add"]>[0]);
      await client.post.findMany({ include: { tags: true, author: { include: { profile: true } } } });
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((s) => s.connection === undefined)).toBe(true);
      expect(seen.map((s) => s.sql).join(" ")).toContain('"public"."_PostToTag"');
      seen.length = 0;
      await client.$transaction(async (tx) => {
        await tx.tag.count();
      });
      // BEGIN is sent by the adapter before it hands the transaction out; COMMIT goes through executeRaw.
      expect(begun).toHaveLength(1);
      expect(seen.map((s) => s.sql)).toEqual([expect.stringContaining("SELECT"), "COMMIT"]);
      expect(seen.every((s) => s.connection === begun[0] && s.inTransaction)).toBe(true);
      expect(ended).toEqual([begun[0]]);
      seen.length = 0;
      await client.$transaction([client.tag.count(), client.user.count()]);
      expect(begun).toHaveLength(2);
      expect(seen.at(-1)).toMatchObject({ sql: "COMMIT", connection: begun[1] });
      await client
        .$transaction(async (tx) => {
          await tx.tag.count();
          throw new Error("rollback");
        })
        .catch(() => {});
      expect(seen.at(-1)).toMatchObject({ sql: "ROLLBACK", connection: begun[2] });
      expect(ended).toEqual(begun);
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

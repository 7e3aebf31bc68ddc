import { type CacheWatch, createCacheWatch, type InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { asc, eq } from "drizzle-orm";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { pgCacheWatchCache } from "../src/index.js";
import { createSchema } from "./support/harness.js";
import { schema, users } from "./support/schema.js";

// postgres-js runs transactions through its API (`sql.begin()`, `savepoint()`): no BEGIN reaches
// the engine as SQL, so the adapter marks the transaction's own client.
const fixture = useTestDatabase("drizzle-postgres-js");
let sql: postgres.Sql;
let watch: CacheWatch;
let db: PostgresJsDatabase<typeof schema>;

beforeAll(async () => {
  await createSchema(fixture);
  sql = postgres(fixture.url, { max: 2, onnotice: () => {} });
  watch = createCacheWatch({ connectionString: fixture.url, source: "none" });
  await watch.start();
  db = drizzle({ client: sql, schema, cache: pgCacheWatchCache(watch) });
});
afterAll(async () => {
  await watch?.stop();
  await sql?.end();
});

const names = (on: Pick<PostgresJsDatabase<typeof schema>, "select"> = db) =>
  on.select({ id: users.id, name: users.name }).from(users).orderBy(asc(users.id));

function mutations(): string[] {
  const seen: string[] = [];
  watch.on("invalidate", (info: InvalidateInfo) => {
    if (info.reason === "mutation") seen.push(...info.tables);
  });
  return seen;
}

describe("Drizzle on postgres-js", () => {
  test("caches, and a write invalidates at once", async () => {
    await names().$cached();
    const before = watch.stats();
    await names().$cached();
    expect(watch.stats().hits - before.hits).toBe(1);
    await db.update(users).set({ name: "pgjs" }).where(eq(users.id, 1));
    expect((await names().$cached())[0]?.name).toBe("pgjs");
  });

  test("reads inside a transaction and a nested one bypass; writes invalidate after COMMIT", async () => {
    await names().$cached();
    const seen = mutations();
    const before = watch.stats();
    await db.transaction(async (tx) => {
      await tx.update(users).set({ name: "pgjs-tx" }).where(eq(users.id, 2));
      expect((await names(tx).$cached()).find((row) => row.id === 2)?.name).toBe("pgjs-tx");
      await tx.transaction(async (nested) => {
        await nested.update(users).set({ name: "pgjs-nested" }).where(eq(users.id, 3));
        expect((await names(nested).$cached()).find((row) => row.id === 3)?.name).toBe("pgjs-nested");
      });
      expect(seen).toEqual([]);
      // The outer db runs on other connections: it still reads the committed, cached rows.
      expect((await names().$cached()).find((row) => row.id === 2)?.name).not.toBe("pgjs-tx");
    });
    expect(watch.stats().bypassed - before.bypassed).toBe(2);
    expect(seen).toEqual(["public.users", "public.users"]);
    const after = await names().$cached();
    expect(after.find((row) => row.id === 2)?.name).toBe("pgjs-tx");
    expect(after.find((row) => row.id === 3)?.name).toBe("pgjs-nested");
  });

  test("a rolled-back transaction's rows are never cached", async () => {
    const committed = await names().$cached();
    await expect(
      db.transaction(async (tx) => {
        await tx.update(users).set({ name: "pgjs-rolled-back" }).where(eq(users.id, 4));
        await names(tx).$cached();
        tx.rollback();
      }),
    ).rejects.toThrow();
    expect(await names().$cached()).toEqual(committed);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { changeOf, createSchema, type Harness, nextInvalidation, openHarness } from "./support/harness.js";
import { users } from "./support/schema.js";

const fixture = useTestDatabase("drizzle-two-dbs");
let a: Harness;
let b: Harness;

beforeAll(async () => {
  await createSchema(fixture);
  a = await openHarness(fixture);
  b = await openHarness(fixture);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const names = (h: Harness) =>
  h.db.select({ id: users.id, name: users.name }).from(users).orderBy(asc(users.id));

test("each db caches in its own engine", async () => {
  await names(a).$cached();
  const before = b.watch.stats();
  await names(b).$cached();
  expect(b.watch.stats().misses - before.misses).toBe(1);
  expect(a.watch.stats().entries).toBe(1);
  expect(b.watch.stats().entries).toBe(1);
});

test("a write through one db invalidates it at once and the other through PostgreSQL", async () => {
  const seenByA: string[] = [];
  const seenByB: string[] = [];
  a.watch.on("invalidate", (info) => seenByA.push(info.reason));
  b.watch.on("invalidate", (info) => seenByB.push(info.reason));
  await names(a).$cached();
  await names(b).$cached();
  const bChanged = changeOf(b.watch, "public.users");
  await a.db.update(users).set({ name: "from-a" }).where(eq(users.id, 1));
  expect(seenByA).toContain("mutation");
  expect(seenByB).not.toContain("mutation");
  expect((await names(a).$cached())[0]?.name).toBe("from-a");
  await bChanged;
  expect((await names(b).$cached())[0]?.name).toBe("from-a");
});

test("a transaction on one db does not make the other bypass or defer", async () => {
  await names(b).$cached();
  await a.db.transaction(async (tx) => {
    await tx.select().from(users).$cached();
    const before = b.watch.stats();
    await names(b).$cached();
    expect(b.watch.stats().hits - before.hits).toBe(1);
    expect(b.watch.stats().bypassed - before.bypassed).toBe(0);
    // b's own write inside a's callback is not part of a's transaction: it invalidates b at once.
    const bMutation = nextInvalidation(b.watch, (info) => info.reason === "mutation");
    await b.db.update(users).set({ name: "from-b" }).where(eq(users.id, 2));
    await bMutation;
  });
  expect((await names(b).$cached())[1]?.name).toBe("from-b");
});

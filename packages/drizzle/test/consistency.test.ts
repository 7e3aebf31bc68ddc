import type { InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createSchema, type Harness, openHarness, QueryGate } from "./support/harness.js";
import { auditLog, users } from "./support/schema.js";

// No NOTIFY listener here: every invalidation these tests see comes from the adapter itself.
const fixture = useTestDatabase("drizzle-consistency");
let harness: Harness;
let gate: QueryGate;

beforeAll(async () => {
  await createSchema(fixture);
  harness = await openHarness(fixture, { source: "none" });
  gate = new QueryGate(harness.pool);
});
afterAll(async () => {
  await harness?.close();
});

const names = () => harness.db.select({ id: users.id, name: users.name }).from(users).orderBy(asc(users.id));
const isUsersSelect = (text: string) => text.startsWith("select") && text.includes('from "users"');
const isUsersUpdate = (text: string) => text.startsWith('update "users"');

function recordInvalidations(): InvalidateInfo[] {
  const seen: InvalidateInfo[] = [];
  harness.watch.on("invalidate", (info) => seen.push(info));
  return seen;
}

describe("writes through Drizzle (rule 4)", () => {
  test("the next read sees an insert at once", async () => {
    const { db } = harness;
    await names().$cached();
    await db.insert(users).values({ name: "ryw" });
    expect((await names().$cached()).map((row) => row.name)).toContain("ryw");
  });

  test("a load that read before an update finished is not stored", async () => {
    const { db, watch } = harness;
    await db.update(users).set({ name: "ada" }).where(eq(users.id, 1));
    gate.arm(isUsersSelect, "after");
    const stale = names().$cached();
    await gate.reached;
    await db.update(users).set({ name: "raced" }).where(eq(users.id, 1));
    const before = watch.stats();
    gate.release();
    expect((await stale)[0]?.name).toBe("ada");
    expect(watch.stats().fillsRejected - before.fillsRejected).toBe(1);
    expect((await names().$cached())[0]?.name).toBe("raced");
  });

  test("a read cached while an update is in flight is dropped when the update completes", async () => {
    const { db } = harness;
    await names().$cached();
    gate.arm(isUsersUpdate, "before");
    const update = db.update(users).set({ name: "after-update" }).where(eq(users.id, 1));
    const updating = update.then(() => undefined);
    await gate.reached;
    // The update has started but not reached the database: this read sees (and may keep) the old row.
    expect((await names().$cached())[0]?.name).not.toBe("after-update");
    gate.release();
    await updating;
    expect((await names().$cached())[0]?.name).toBe("after-update");
  });
});

describe("reads and writes in one statement", () => {
  test("concurrent misses of one query load once", async () => {
    const { watch } = harness;
    watch.invalidateAll();
    const before = watch.stats();
    const results = await Promise.all([names().$cached(), names().$cached(), names().$cached()]);
    expect(watch.stats().loads - before.loads).toBe(1);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).not.toBe(results[1]);
  });

  test("a select whose CTE writes is never cached", async () => {
    const { db, watch } = harness;
    const logged = () =>
      db
        .with(db.$with("logged").as(db.insert(auditLog).values({ userId: 1, action: "read" }).returning()))
        .select({ id: users.id })
        .from(users);
    const reads = async () =>
      (await db.select({ action: auditLog.action }).from(auditLog)).filter((row) => row.action === "read")
        .length;
    const logged0 = await reads();
    const before = watch.stats();
    await logged().$cached();
    await logged().$cached();
    // Concurrent calls each write: they are not merged into one execution (single flight).
    await Promise.all([logged().$cached(), logged().$cached(), logged().$cached()]);
    expect(watch.stats().bypassed - before.bypassed).toBe(5);
    expect(watch.stats().hits - before.hits).toBe(0);
    expect(await reads()).toBe(logged0 + 5);
  });

  test("an update with a data-modifying CTE invalidates the CTE's table too", async () => {
    const { db } = harness;
    const log = () => db.select({ action: auditLog.action }).from(auditLog).$cached();
    await log();
    const seen = recordInvalidations();
    await db
      .with(db.$with("noted").as(db.insert(auditLog).values({ userId: 2, action: "renamed" }).returning()))
      .update(users)
      .set({ name: "bob" })
      .where(eq(users.id, 2));
    expect(
      seen
        .filter((info) => info.reason === "mutation")
        .flatMap((info) => info.tables)
        .sort(),
    ).toEqual(["audit.log", "public.users"]);
    expect((await log()).map((row) => row.action)).toContain("renamed");
  });
});

describe("transactions (rule 3)", () => {
  test("reads inside a transaction bypass the cache and never fill it", async () => {
    const { db, watch } = harness;
    await names().$cached();
    const before = watch.stats();
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name: "uncommitted" });
        const inside = await tx.select({ name: users.name }).from(users).$cached();
        expect(inside.map((row) => row.name)).toContain("uncommitted");
        const withCache = await tx.select({ name: users.name }).from(users).$withCache();
        expect(withCache.map((row) => row.name)).toContain("uncommitted");
        tx.rollback();
      }),
    ).rejects.toThrow();
    expect(watch.stats().bypassed - before.bypassed).toBe(2);
    expect((await names().$cached()).map((row) => row.name)).not.toContain("uncommitted");
    expect(
      (await db.select({ name: users.name }).from(users).$withCache()).map((row) => row.name),
    ).not.toContain("uncommitted");
  });

  test("a write inside a transaction invalidates after COMMIT, not before", async () => {
    const { db, watch } = harness;
    const cached = await names().$cached();
    const seen = recordInvalidations();
    await db.transaction(async (tx) => {
      await tx.update(users).set({ name: "committed" }).where(eq(users.id, 2));
      expect(seen.filter((info) => info.reason === "mutation")).toEqual([]);
      // Another connection cannot see the update yet: the outer db (not tx) still reads the cached rows.
      const before = watch.stats();
      expect(await names().$cached()).toEqual(cached);
      expect(watch.stats().hits - before.hits).toBe(1);
    });
    expect(seen.filter((info) => info.reason === "mutation").flatMap((info) => info.tables)).toEqual([
      "public.users",
    ]);
    expect((await names().$cached()).find((row) => row.id === 2)?.name).toBe("committed");
  });

  test("a write in a nested transaction (savepoint) invalidates after the outer COMMIT", async () => {
    const { db } = harness;
    await names().$cached();
    const seen = recordInvalidations();
    await db.transaction(async (tx) => {
      await tx.transaction(async (nested) => {
        await nested.update(users).set({ name: "nested" }).where(eq(users.id, 3));
      });
      expect(seen.filter((info) => info.reason === "mutation")).toEqual([]);
    });
    expect(seen.some((info) => info.reason === "mutation")).toBe(true);
    expect((await names().$cached()).find((row) => row.id === 3)?.name).toBe("nested");
  });

  test("a rolled-back transaction still invalidates (always safe)", async () => {
    const { db } = harness;
    await names().$cached();
    const seen = recordInvalidations();
    await expect(
      db.transaction(async (tx) => {
        await tx.update(users).set({ name: "rolled-back" }).where(eq(users.id, 3));
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(seen.some((info) => info.reason === "mutation")).toBe(true);
    expect((await names().$cached()).find((row) => row.id === 3)?.name).toBe("nested");
  });
});

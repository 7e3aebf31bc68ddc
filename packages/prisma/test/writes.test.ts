import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  expectInvalidation,
  openPrismaFixture,
  type PrismaFixture,
  statsDelta,
} from "./support/prisma-fixture.js";

const db = useTestDatabase("prisma_writes");
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

/** Every mutation invalidates when it completes: the next read misses without waiting for NOTIFY. */
async function expectReadMissesAfter(
  read: () => Promise<unknown>,
  write: () => Promise<unknown>,
): Promise<unknown> {
  await read();
  expect((await statsDelta(fx.watch, read)).hits).toBe(1);
  await write();
  const after = await statsDelta(fx.watch, read);
  expect(after.misses).toBe(1);
  return after.value;
}

describe("mutations invalidate the tables they touch when they complete (read-your-writes)", () => {
  it("create, then the next read sees the row", async () => {
    const read = () => fx.prisma.tag.findMany({ orderBy: { id: "asc" } });
    const value = await expectReadMissesAfter(read, () =>
      fx.prisma.tag.create({ data: { name: "created" } }),
    );
    expect(value).toContainEqual(expect.objectContaining({ name: "created" }));
  });

  it("a nested write invalidates every model it reaches (users, posts, Tag, _PostToTag, audit.Profile)", async () => {
    const reads: Array<() => Promise<unknown>> = [
      () => fx.prisma.post.count(),
      () => fx.prisma.tag.count(),
      () => fx.prisma.profile.count(),
      () => fx.prisma.post.findMany({ where: { id: 1 }, include: { tags: true } }),
    ];
    for (const read of reads) await read();
    const mutation = fx.watch.stats();
    await fx.prisma.user.create({
      data: {
        email: "nested@example.com",
        displayName: "Nested",
        profile: { create: { bio: "nested" } },
        posts: {
          create: [
            {
              title: "nested",
              // A tag that does not exist yet: connectOrCreate writes "Tag" (connecting an existing one would not).
              tags: { connectOrCreate: [{ where: { name: "nested" }, create: { name: "nested" } }] },
            },
          ],
        },
      },
    });
    expect(fx.watch.stats().invalidations).toBeGreaterThan(mutation.invalidations);
    for (const read of reads) expect((await statsDelta(fx.watch, read)).misses).toBe(1);
  });

  it("connecting through the implicit m-n relation invalidates a read of the join table", async () => {
    const read = () =>
      fx.prisma.post.findUnique({ where: { id: 2 }, include: { tags: { orderBy: { id: "asc" } } } });
    const value = (await expectReadMissesAfter(read, () =>
      fx.prisma.post.update({ where: { id: 2 }, data: { tags: { connect: { id: 2 } } } }),
    )) as { tags: { id: number }[] };
    expect(value.tags.map((t) => t.id)).toContain(2);
  });

  it.each([
    ["update", () => fx.prisma.user.update({ where: { id: 2 }, data: { displayName: "Robert" } })],
    ["updateMany", () => fx.prisma.user.updateMany({ where: { id: 2 }, data: { displayName: "Bobby" } })],
    [
      "upsert",
      () =>
        fx.prisma.user.upsert({
          where: { email: "upsert@example.com" },
          create: { email: "upsert@example.com", displayName: "Up" },
          update: { displayName: "Sert" },
        }),
    ],
    [
      "createMany",
      () => fx.prisma.user.createMany({ data: [{ email: "m1@example.com", displayName: "M1" }] }),
    ],
    [
      "createManyAndReturn",
      () => fx.prisma.user.createManyAndReturn({ data: [{ email: "m2@example.com", displayName: "M2" }] }),
    ],
    [
      "updateManyAndReturn",
      () => fx.prisma.user.updateManyAndReturn({ where: { id: 2 }, data: { displayName: "B" } }),
    ],
    ["delete", () => fx.prisma.user.delete({ where: { email: "m1@example.com" } })],
    ["deleteMany", () => fx.prisma.user.deleteMany({ where: { email: "m2@example.com" } })],
  ])("%s", async (_name, write) => {
    await expectReadMissesAfter(() => fx.prisma.user.findMany({ orderBy: { id: "asc" } }), write);
  });

  it("connecting an existing row through connectOrCreate leaves reads of its table cached (nothing was written)", async () => {
    const read = () => fx.prisma.tag.count();
    await read();
    await fx.prisma.post.update({
      where: { id: 3 },
      data: { tags: { connectOrCreate: [{ where: { name: "intro" }, create: { name: "intro" } }] } },
    });
    expect((await statsDelta(fx.watch, read)).hits).toBe(1);
  });

  it("deleting a row invalidates reads of the tables its foreign keys cascade to (through the change source)", async () => {
    const read = () => fx.prisma.profile.findMany();
    await read();
    expect((await statsDelta(fx.watch, read)).hits).toBe(1);
    // The DELETE's SQL names users only: the cascaded rows of audit."Profile" reach the cache
    // through their trigger's notification, not at once.
    await expectInvalidation(fx.watch, "audit.Profile", () =>
      fx.prisma.user.delete({ where: { email: "nested@example.com" } }),
    );
    const after = await statsDelta(fx.watch, read);
    expect(after.misses).toBe(1);
    expect(after.value).not.toContainEqual(expect.objectContaining({ bio: "nested" }));
  });
});

describe("transactions", () => {
  it("reads inside an interactive transaction bypass the cache, even when an entry exists", async () => {
    const read = () => fx.prisma.tag.findMany({ orderBy: { id: "asc" } });
    await read();
    const inside = await statsDelta(fx.watch, () =>
      fx.prisma.$transaction(async (tx) => {
        await tx.tag.create({ data: { name: "uncommitted" } });
        return tx.tag.findMany({ orderBy: { id: "asc" } });
      }),
    );
    expect(inside.hits + inside.misses).toBe(0);
    expect(inside.bypassed).toBeGreaterThan(0);
    expect(inside.value).toContainEqual(expect.objectContaining({ name: "uncommitted" }));
  });

  it("a transaction's writes invalidate after COMMIT, not before", async () => {
    const read = () => fx.prisma.tag.findMany({ where: { name: { startsWith: "tx-" } } });
    await read();
    let releaseCommit!: () => void;
    const gate = new Promise<void>((resolve) => {
      releaseCommit = resolve;
    });
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => {
      wrote = resolve;
    });
    const mutationsBefore = countMutationInvalidations();
    const transaction = fx.prisma.$transaction(async (tx) => {
      await tx.tag.create({ data: { name: "tx-one" } });
      wrote();
      await gate;
    });
    await written;
    // Written but not committed: nothing was invalidated yet and the cached read still serves.
    expect(mutationsBefore.count()).toBe(0);
    releaseCommit();
    await transaction;
    expect(mutationsBefore.count()).toBe(1);
    mutationsBefore.stop();
    const after = await statsDelta(fx.watch, read);
    expect(after.misses).toBe(1);
    expect(after.value).toEqual([expect.objectContaining({ name: "tx-one" })]);
  });

  it("a nested interactive transaction's writes invalidate at the outermost COMMIT", async () => {
    const counter = countMutationInvalidations();
    let afterInner = -1;
    await fx.prisma.$transaction(async (tx) => {
      await tx.$transaction(async (inner) => {
        await inner.tag.create({ data: { name: "tx-nested" } });
      });
      afterInner = counter.count();
    });
    expect(afterInner).toBe(0);
    expect(counter.count()).toBe(1);
    counter.stop();
  });

  it("a rolled-back transaction's writes still complete (invalidating is always safe)", async () => {
    const counter = countMutationInvalidations();
    await expect(
      fx.prisma.$transaction(async (tx) => {
        await tx.tag.create({ data: { name: "tx-rolled-back" } });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(counter.count()).toBe(1);
    counter.stop();
    expect(await fx.prisma.tag.findFirst({ where: { name: "tx-rolled-back" } })).toBeNull();
  });

  it("batch $transaction([...]) reads bypass the cache and its writes invalidate", async () => {
    const read = () => fx.prisma.tag.count();
    await read();
    const batch = await statsDelta(fx.watch, () =>
      fx.prisma.$transaction([fx.prisma.tag.count(), fx.prisma.tag.create({ data: { name: "batch" } })]),
    );
    expect(batch.hits + batch.misses).toBe(0);
    const after = await statsDelta(fx.watch, read);
    expect(after.misses).toBe(1);
    expect(after.value).toBe((batch.value[0] as number) + 1);
  });

  it("an external writer's transaction invalidates at its commit", async () => {
    const read = () => fx.prisma.tag.findMany({ where: { name: "external" } });
    expect(await read()).toEqual([]);
    await fx.writer.query("BEGIN");
    await fx.writer.query(`INSERT INTO public."Tag" (name) VALUES ('external')`);
    expect((await statsDelta(fx.watch, read)).hits).toBe(1);
    await expectInvalidation(fx.watch, "public.Tag", () => fx.writer.query("COMMIT"));
    expect(await read()).toEqual([expect.objectContaining({ name: "external" })]);
  });
});

function countMutationInvalidations() {
  let count = 0;
  const listener = (info: { reason: string }) => {
    if (info.reason === "mutation") count++;
  };
  fx.watch.on("invalidate", listener);
  return { count: () => count, stop: () => fx.watch.off("invalidate", listener) };
}

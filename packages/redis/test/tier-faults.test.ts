import { installTriggers } from "@pgcachewatch/core/triggers";
import { nextEvent, startPrivateRedis, until } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminRedis, type Instance, settled, startInstance, testPrefix } from "./support/fleet.js";

// This file kills its Redis: always a private server, never REDIS_URL.
const redis = await startPrivateRedis();
const db = useTestDatabase("redis_tier_faults");
let pool: pg.Pool;
let writer: pg.Client;
let admin: Redis;
const instances: Instance[] = [];
const prefix = testPrefix("faults");
const SELECT_ITEMS = "SELECT id, name FROM items ORDER BY id";
const truth = async () => (await writer.query(SELECT_ITEMS)).rows;

async function instance(name: string, source: "notify" | "none" = "notify"): Promise<Instance> {
  const started = await startInstance(
    name,
    pool,
    { redis: redis!.url, prefix, commandTimeout: 300 },
    { connectionString: db.url, source },
  );
  instances.push(started);
  return started;
}

describe.skipIf(!redis)("the Redis tier under faults", () => {
  beforeAll(async () => {
    writer = await db.externalWriter();
    await writer.query(`
      CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
      INSERT INTO items VALUES (1, 'one'), (2, 'two');
    `);
    await installTriggers(writer, { tables: ["items"], channel: "pgcachewatch" });
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    admin = adminRedis(redis!.url);
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((i) => i.stop()));
    admin?.disconnect();
    await pool?.end();
    await redis?.stop();
  });

  it("Redis killed mid-run: reads fall back to the first tier and PostgreSQL, never stale; they share again once it is back", async () => {
    const a = await instance("a");
    const b = await instance("b");
    expect(await a.read("k1", "items", SELECT_ITEMS)).toEqual(await truth());
    await until(() => a.tier.stats().fills === 1, 5000, "the fill");
    expect(await b.read("k1", "items", SELECT_ITEMS)).toEqual(await truth());
    expect(b.loads).toBe(0);

    await redis!.kill();
    await until(
      () => !a.tier.stats().available && !b.tier.stats().available,
      5000,
      "both tiers to step aside",
    );
    expect(await a.read("k1", "items", SELECT_ITEMS)).toEqual(await truth()); // first-tier hit
    const dropped = Promise.all(
      [a, b].map((i) => nextEvent(i.watch, "invalidate", (x) => x.reason === "change")),
    );
    await writer.query("UPDATE items SET name = 'while-down' WHERE id = 1");
    await dropped; // applied locally; Redis could not be told
    for (const i of [a, b]) expect(await i.read("k1", "items", SELECT_ITEMS)).toEqual(await truth());
    expect(await b.read("k2", "items", SELECT_ITEMS)).toEqual(await truth());

    await redis!.restart();
    await Promise.all([a.tier.whenAvailable(), b.tier.whenAvailable()]);
    for (const i of [a, b]) expect(i.tier.stats().flushes).toBeGreaterThan(0);
    await until(
      async () => {
        // The engine's own source keeps covering once the tier is back (its heartbeat resumes).
        return (await admin.zcard(`${prefix}cover`).catch(() => 0)) === 2;
      },
      5000,
      "both instances to cover again",
    );
    const loadsBefore = b.loads;
    expect(await a.read("k3", "items", SELECT_ITEMS)).toEqual(await truth());
    await until(() => a.tier.stats().fills >= 2, 5000, "a fill after the restart");
    expect(await b.read("k3", "items", SELECT_ITEMS)).toEqual(await truth());
    expect(b.loads).toBe(loadsBefore); // shared again
  });

  it("CLIENT KILL of a tier's connection: an invalidation it may have missed becomes a flush; nobody reads stale", async () => {
    const a = instances[0]!;
    // `c` never hears of changes itself: whatever it reads from Redis must already be right.
    const c = await instance("c", "none");
    await a.watch.load({ key: "tagged", tables: ["items"], tags: ["catalog"] }, async () => {
      a.loads++;
      return (await pool.query(SELECT_ITEMS)).rows;
    });
    await until(async () => (await c.tier.get("tagged")) !== undefined, 5000, "the fill to reach Redis");

    const recoveries = a.tier.stats().recoveries;
    const clients = String(await admin.client("LIST"));
    const name = `pgcachewatch-tier-${a.tier.instanceId.slice(0, 8)}`;
    const id = /id=(\d+) [^\n]*name=(\S+)/g;
    let killed = 0;
    for (const match of clients.matchAll(id)) {
      if (match[2] === name) {
        await admin.client("KILL", "ID", match[1]!);
        killed++;
      }
    }
    expect(killed).toBe(1);
    // Only `a` applies this one (a manual invalidation of a user tag): it must not be lost with the connection.
    a.watch.invalidate({ tags: ["catalog"] });
    await until(
      () => a.tier.stats().recoveries > recoveries && a.tier.stats().available,
      5000,
      "the tier to reconnect",
    );
    await settled(a.tier);
    expect(await c.tier.get("tagged")).toBeUndefined();
    // And the tier serves again.
    await a.read("after-kill", "items", SELECT_ITEMS);
    await until(
      async () => (await c.tier.get("after-kill")) !== undefined,
      5000,
      "a fill after the reconnect",
    );
  });

  it("state written under another Redis run (a restart that kept its data) is a flush, not a source of hits", async () => {
    const a = instances[0]!;
    const c = instances.at(-1)!;
    await a.read("persisted", "items", SELECT_ITEMS);
    await until(async () => (await c.tier.get("persisted")) !== undefined, 5000, "the fill to reach Redis");
    // Every instance's tier reconnects; whichever recovers first sees the foreign run and flushes.
    const allFlushes = () => instances.reduce((sum, instance) => sum + instance.tier.stats().flushes, 0);
    const flushes = allFlushes();
    // What a restart from a snapshot looks like to the tiers: the data is there, the run is not theirs.
    await admin.set(`${prefix}run`, "0000000000000000000000000000000000000000");
    expect(await c.tier.get("persisted")).toBeUndefined(); // never served across runs
    const recoveries = c.tier.stats().recoveries;
    const clients = String(await admin.client("LIST"));
    for (const match of clients.matchAll(/id=(\d+) [^\n]*name=pgcachewatch-tier-/g)) {
      await admin.client("KILL", "ID", match[1]!);
    }
    await until(
      () => c.tier.stats().recoveries > recoveries && c.tier.stats().available,
      5000,
      "the reconnect",
    );
    await until(() => allFlushes() > flushes, 5000, "a flush");
    expect(await c.tier.get("persisted")).toBeUndefined(); // filled before the flush
    await a.read("after-run-change", "items", SELECT_ITEMS);
    await until(async () => (await c.tier.get("after-run-change")) !== undefined, 5000, "sharing again");
  });
});

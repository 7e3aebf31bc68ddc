import { installTriggers } from "@pgcachewatch/core/triggers";
import { startPrivateRedis, until } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminRedis, type Instance, startInstance, testPrefix } from "./support/fleet.js";

// A Redis of its own: the test counts every script the server runs, so no other client may share it.
const redis = await startPrivateRedis();
const db = useTestDatabase("redis_round_trips");
let pool: pg.Pool;
let admin: Redis;
let instance: Instance;

async function scriptCalls(): Promise<number> {
  const stats = String(await admin.info("commandstats"));
  const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return calls("evalsha") + calls("eval");
}

describe.skipIf(!redis)("round trips to Redis", () => {
  beforeAll(async () => {
    const writer = await db.externalWriter();
    await writer.query(
      "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL); INSERT INTO items VALUES (1, 'one')",
    );
    await installTriggers(writer, { tables: ["items"], channel: "pgcachewatch" });
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    admin = adminRedis(redis!.url);
    // No change source: no coverage heartbeats, so the only scripts are the reads' own.
    instance = await startInstance(
      "solo",
      pool,
      { redis: redis!.url, prefix: testPrefix("trips") },
      { connectionString: db.url, source: "none" },
    );
  });

  afterAll(async () => {
    await instance?.stop();
    admin?.disconnect();
    await pool?.end();
    await redis?.stop();
  });

  it("a first-tier miss asks Redis once before the load (lookup and token in one script), then fills", async () => {
    await admin.config("RESETSTAT");
    const before = await scriptCalls();
    await instance.read("items:1", "items", "SELECT * FROM items");
    const decided = () => instance.tier.stats().fills + instance.tier.stats().fillsRefused;
    await until(() => decided() === 1, 5000, "the fill to be decided");
    expect(instance.loads).toBe(1);
    // One lookup (which also took the load's token) and one fill.
    expect((await scriptCalls()) - before).toBe(2);
  });
});

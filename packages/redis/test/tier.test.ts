import type { CacheWatchOptions } from "@pgcachewatch/core";
import { installTriggers } from "@pgcachewatch/core/triggers";
import { deferred, nextEvent, redisForTests, until } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisTier } from "../src/index.js";
import { adminRedis, type Instance, settled, startInstance, testPrefix } from "./support/fleet.js";

const redis = await redisForTests();
const db = useTestDatabase("redis_tier");
let pool: pg.Pool;
let writer: pg.Client;
let admin: Redis;
const instances: Instance[] = [];
const prefix = testPrefix("tier");

const SELECT_ITEMS = "SELECT id, name FROM items ORDER BY id";
const truth = async () => (await writer.query(SELECT_ITEMS)).rows;

async function instance(
  name: string,
  source: "notify" | "none" = "notify",
  engine: CacheWatchOptions = {},
): Promise<Instance> {
  if (!redis) throw new Error("unreachable: the suite is skipped without Redis");
  const started = await startInstance(
    name,
    pool,
    { redis: redis.url, prefix },
    { connectionString: db.url, source, ...engine },
  );
  instances.push(started);
  return started;
}

describe.skipIf(!redis)("the Redis second tier across instances", () => {
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

  it("a fill in one instance is a hit in another; an external write drops it in both", async () => {
    const a = await instance("a");
    const b = await instance("b");
    const first = await a.read("items:all", "items", SELECT_ITEMS);
    expect(first).toEqual(await truth());
    await until(() => a.tier.stats().fills === 1, 5000, "the fill to reach Redis");
    const fromB = await b.read("items:all", "items", SELECT_ITEMS);
    expect(fromB).toEqual(first);
    expect(b.loads).toBe(0); // served by Redis, not PostgreSQL
    expect(b.tier.stats().hits).toBe(1);
    await b.read("items:all", "items", SELECT_ITEMS);
    expect(b.watch.stats().hits).toBe(1); // now a first-tier hit

    const dropped = Promise.all(
      [a, b].map((i) => nextEvent(i.watch, "invalidate", (info) => info.reason === "change")),
    );
    await writer.query("UPDATE items SET name = 'uno' WHERE id = 1");
    await dropped;
    await Promise.all([settled(a.tier), settled(b.tier)]);
    expect(await b.read("items:all", "items", SELECT_ITEMS)).toEqual(await truth());
    expect(b.loads).toBe(1);
    expect(await a.read("items:all", "items", SELECT_ITEMS)).toEqual(await truth());
  });

  it("fill guard across instances: a load that began before another instance's invalidation is refused by Redis", async () => {
    // `slow` never hears of changes itself (its own event is late): only Redis's marks can stop its fill.
    const slow = await instance("slow", "none");
    const reader = await instance("reader");
    const gate = deferred();
    const held = slow.watch.load({ key: "items:held", tables: ["items"] }, async () => {
      slow.loads++;
      const rows = (await pool.query(SELECT_ITEMS)).rows;
      await gate.promise; // the write commits and is applied to Redis while this load holds old rows
      return rows;
    });
    await until(() => slow.loads === 1, 5000, "the held load to read");
    const applied = nextEvent(reader.watch, "invalidate", (info) => info.reason === "change");
    await writer.query("UPDATE items SET name = 'held-write' WHERE id = 2");
    await applied;
    await settled(reader.tier);
    const before = slow.tier.stats();
    gate.resolve();
    const stale = await held;
    expect(stale).not.toEqual(await truth()); // the held load's own callers get what it read
    const decided = () => slow.tier.stats().fills + slow.tier.stats().fillsRefused;
    await until(() => decided() === before.fills + before.fillsRefused + 1, 5000, "Redis to decide the fill");
    const loadsBefore = reader.loads;
    const fresh = await reader.read("items:held", "items", SELECT_ITEMS);
    expect(fresh).toEqual(await truth());
    expect(reader.loads).toBe(loadsBefore + 1);
    expect(slow.tier.stats().fillsRefused).toBe(before.fillsRefused + 1);
  });

  it("entries are not served while no instance's source covers, and not after coverage resumes", async () => {
    for (const i of instances.splice(0)) await i.stop();
    // Slow reconnects: both listeners stay down together for a while.
    const slowReconnect = { reconnectDelay: { initial: 1500, max: 1500 } };
    const a = await instance("cover-a", "notify", slowReconnect);
    const b = await instance("cover-b", "notify", slowReconnect);
    await a.read("items:cover", "items", SELECT_ITEMS);
    await until(() => a.tier.stats().fills === 1, 5000, "the fill to reach Redis");
    const probe = createRedisTier({ redis: redis!.url, prefix });
    await probe.whenAvailable();
    expect(await probe.get("items:cover")).toBeDefined();
    // Both listeners die: nobody covers, the shared entry is not served.
    const lost = Promise.all([a, b].map((i) => nextEvent(i.watch, "lost")));
    await writer.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgcachewatch-listener' AND datname = current_database()",
    );
    await lost;
    await settled(a.tier);
    await settled(b.tier);
    expect(await probe.get("items:cover")).toBeUndefined();
    // They come back: a new coverage epoch, the old entry stays invalid.
    await Promise.all([a, b].map((i) => nextEvent(i.watch, "ready", () => true, 15_000)));
    await until(
      async () =>
        (await probe.get("never")) === undefined && a.tier.stats().epochs + b.tier.stats().epochs >= 1,
      5000,
      "a new epoch",
    );
    expect(await probe.get("items:cover")).toBeUndefined();
    await probe.close();
  });

  it("a lost source flushes Redis; while down, its engine reads what the others refill", async () => {
    const down = await instance("down", "notify", { reconnectDelay: { initial: 3000, max: 3000 } });
    const up = await instance("up");
    await up.read("items:shared", "items", SELECT_ITEMS);
    await until(async () => (await down.tier.get("items:shared")) !== undefined, 5000, "the fill");
    const listener = (down.watch.source as { backendPid?: number }).backendPid;
    const lost = nextEvent(down.watch, "lost");
    await writer.query("SELECT pg_terminate_backend($1)", [listener]);
    await lost;
    await settled(down.tier);
    expect(await up.tier.get("items:shared")).toBeUndefined(); // flushed: the loss may be everyone's
    const upLoads = up.loads;
    await up.read("items:shared", "items", SELECT_ITEMS); // the first tier was not flushed by another's loss
    expect(up.loads).toBe(upLoads);
    await up.read("items:refill", "items", SELECT_ITEMS);
    await until(async () => (await down.tier.get("items:refill")) !== undefined, 5000, "the refill");
    expect(down.watch.state).toBe("lost");
    expect(await down.read("items:refill", "items", SELECT_ITEMS)).toEqual(await truth());
    expect(down.loads).toBe(0); // served by Redis, covered by `up`
  });

  it("values come back intact through Redis (Date, BigInt, Buffer, Decimal, JSON)", async () => {
    class Decimal {
      constructor(readonly text: string) {}
      toString() {
        return this.text;
      }
    }
    await writer.query(`
      CREATE TABLE kinds (id int PRIMARY KEY, at timestamptz, big int8, bytes bytea, price numeric, doc jsonb, tags text[], nothing text);
      INSERT INTO kinds VALUES (1, '2026-03-04 05:06:07.891+00', 9007199254740993, '\\x00ff10', 12.3400, '{"a":[1,{"b":null}]}', '{x,y}', NULL);
    `);
    await installTriggers(writer, { tables: ["kinds"], channel: "pgcachewatch" });
    const typed = new pg.Pool({
      connectionString: db.url,
      max: 2,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") => {
          if (oid === 20) return (text: string) => BigInt(text);
          if (oid === 1700) return (text: string) => new Decimal(text);
          return pg.types.getTypeParser(oid, format);
        }) as typeof pg.types.getTypeParser,
      },
    });
    const make = async (name: string) => {
      const i = await startInstance(name, typed, { redis: redis!.url, prefix }, { connectionString: db.url });
      i.tier.codec.register("Decimal", Decimal);
      instances.push(i);
      return i;
    };
    const a = await make("kinds-a");
    const b = await make("kinds-b");
    const sql = "SELECT * FROM kinds";
    const [original] = await a.read<Record<string, unknown>>("kinds", "kinds", sql);
    await until(() => a.tier.stats().fills === 1, 5000, "the fill to reach Redis");
    const [copy] = await b.read<Record<string, unknown>>("kinds", "kinds", sql);
    expect(b.loads).toBe(0);
    expect(copy).toEqual(original);
    expect(copy?.at).toBeInstanceOf(Date);
    expect(copy?.big).toBe(9007199254740993n);
    expect(Buffer.isBuffer(copy?.bytes)).toBe(true);
    expect(copy?.price).toBeInstanceOf(Decimal);
    expect(String(copy?.price)).toBe("12.3400");
    expect(copy?.doc).toEqual({ a: [1, { b: null }] });
    expect(copy?.tags).toEqual(["x", "y"]);
    expect(copy?.nothing).toBeNull();
    await typed.end();
  });

  it("a class the codec does not know is not stored in Redis (never changed)", async () => {
    const a = instances.at(-1)!;
    class Opaque {}
    await a.watch.load({ key: "opaque", tables: ["items"] }, async () => ({ value: new Opaque() }));
    await until(() => a.tier.stats().fillsUnencodable === 1, 5000, "the refusal");
  });
});

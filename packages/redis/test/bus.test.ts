import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type CacheWatch, createCacheWatch, NotifySource } from "@pgcachewatch/core";
import { installTriggers } from "@pgcachewatch/core/triggers";
import { nextEvent, redisForTests, until } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BusSource, createBusSource, ValueCodec } from "../src/index.js";
import { adminRedis, testPrefix } from "./support/fleet.js";
import { spawnTs } from "./support/spawn-ts.js";

const redis = await redisForTests();
const db = useTestDatabase("redis_bus");
const prefix = testPrefix("bus");
let pool: pg.Pool;
let writer: pg.Client;
let admin: Redis;
const SELECT_ITEMS = "SELECT id, name FROM items ORDER BY id";
const truth = async () => (await writer.query(SELECT_ITEMS)).rows;
const RELAY_PROCESS = fileURLToPath(new URL("./support/relay-process.ts", import.meta.url));

interface BusInstance {
  name: string;
  bus: BusSource;
  watch: CacheWatch;
  loads: number;
  read(key: string): Promise<unknown[]>;
}
const running: BusInstance[] = [];
const children: ChildProcess[] = [];

async function busInstance(name: string, canRelay: boolean): Promise<BusInstance> {
  const bus = createBusSource({
    redis: redis!.url,
    prefix,
    heartbeatInterval: 200,
    // Generous against a loaded machine's pauses: a spurious loss would flush the hits under test.
    silenceTimeout: 2000,
    lockTtl: 3000,
    canRelay,
    relaySource: () =>
      new NotifySource({ connectionString: db.url, channel: "pgcachewatch", heartbeatInterval: 1000 }),
  });
  const watch = createCacheWatch({ connectionString: db.url, source: bus });
  const instance: BusInstance = {
    name,
    bus,
    watch,
    loads: 0,
    read: (key) =>
      watch.load({ key, tables: ["items"] }, async () => {
        instance.loads++;
        return (await pool.query(SELECT_ITEMS)).rows;
      }),
  };
  running.push(instance);
  await watch.start();
  return instance;
}

async function relayProcess(): Promise<ChildProcess & { output: string }> {
  const child = spawnTs(RELAY_PROCESS, { REDIS_URL: redis!.url, DATABASE_URL: db.url, PREFIX: prefix });
  children.push(child);
  await until(() => child.output.includes("relay"), 20_000, "the child to become the relay");
  return child;
}

const listeners = async () =>
  Number(
    (
      await writer.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pgcachewatch-listener' AND datname = current_database()",
      )
    ).rows[0].n,
  );

async function expectDelivered(instances: BusInstance[], sql: string): Promise<void> {
  for (const i of instances) await i.read("items");
  const changed = Promise.all(
    instances.map((i) => nextEvent(i.watch, "invalidate", (info) => info.reason === "change")),
  );
  await writer.query(sql);
  await changed;
  for (const i of instances) expect(await i.read("items")).toEqual(await truth());
}

describe.skipIf(!redis)("the invalidation bus", () => {
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
    for (const child of children) child.kill("SIGKILL");
    await Promise.allSettled(running.map((i) => i.watch.stop()));
    admin?.disconnect();
    await pool?.end();
    await redis?.stop();
  });

  it("one relay holds the only listener; its events reach every instance", async () => {
    const a = await busInstance("a", true);
    const b = await busInstance("b", true);
    await until(() => a.bus.isRelay !== b.bus.isRelay, 5000, "one relay");
    expect(await listeners()).toBe(1);
    await expectDelivered([a, b], "UPDATE items SET name = 'bus-1' WHERE id = 1");
    // A hit stays a hit across heartbeats.
    const loads = a.loads;
    await new Promise((r) => setTimeout(r, 500));
    await a.read("items");
    expect(a.loads).toBe(loads);
    for (const i of running.splice(0)) await i.watch.stop();
    await until(async () => (await listeners()) === 0, 5000, "the relay's listener to close");
  });

  it("a silent bus (the relay frozen) is a lost source: flush and bypass, then ready again", async () => {
    const child = await relayProcess();
    const a = await busInstance("sub-a", false);
    const b = await busInstance("sub-b", false);
    await a.read("items");
    const lost = Promise.all([a, b].map((i) => nextEvent(i.watch, "lost", () => true, 5000)));
    child.kill("SIGSTOP");
    await lost;
    expect(a.bus.counts.silences).toBeGreaterThan(0);
    const loads = a.loads;
    await a.read("items");
    await a.read("items");
    expect(a.loads).toBe(loads + 2); // bypassed: straight to PostgreSQL
    const ready = Promise.all([a, b].map((i) => nextEvent(i.watch, "ready", () => true, 10_000)));
    child.kill("SIGCONT");
    await ready;
    await expectDelivered([a, b], "UPDATE items SET name = 'after-silence' WHERE id = 1");
  });

  it("the relay killed: another instance takes over within seconds", async () => {
    const [a, b] = running as [BusInstance, BusInstance];
    const c = await busInstance("candidate", true);
    const child = children[0]!;
    const lost = Promise.all([a, b, c].map((i) => nextEvent(i.watch, "lost", () => true, 5000)));
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await lost;
    await Promise.all([a, b, c].map((i) => nextEvent(i.watch, "ready", () => true, 10_000)));
    const failover = Date.now() - killedAt;
    console.info(`relay failover: ready again ${failover} ms after SIGKILL (lock ttl 3000 ms)`);
    expect(c.bus.isRelay).toBe(true);
    expect(a.bus.counts.relayChanges).toBeGreaterThan(0);
    await until(async () => (await listeners()) === 1, 5000, "one listener");
    await expectDelivered([a, b, c], "UPDATE items SET name = 'after-failover' WHERE id = 2");
  });

  it("a gap in the sequence is a lost source, and the next heartbeats make it ready", async () => {
    const [a, b, c] = running as [BusInstance, BusInstance, BusInstance];
    const term = Number(await admin.get(`${prefix}term`));
    const gapsBefore = a.bus.counts.gaps;
    const lost = Promise.all([a, b].map((i) => nextEvent(i.watch, "lost", () => true, 5000)));
    const ready = Promise.all([a, b].map((i) => nextEvent(i.watch, "ready", () => true, 10_000)));
    // A message numbered far ahead: everything between was "missed".
    await admin.publish(`${prefix}bus`, new ValueCodec().encode({ t: term, s: 1_000_000, k: "h", r: true }));
    await lost;
    expect(a.bus.counts.gaps).toBeGreaterThan(gapsBefore);
    await ready;
    await expectDelivered([a, b, c], "UPDATE items SET name = 'after-gap' WHERE id = 2");
  });

  it.skipIf(!redis?.private)(
    "Redis restarted: terms count from 1 again, and the bus comes back",
    async () => {
      const [a, b, c] = running as [BusInstance, BusInstance, BusInstance];
      const termBefore = Number(await admin.get(`${prefix}term`));
      expect(termBefore).toBeGreaterThan(1);
      const lost = Promise.all([a, b].map((i) => nextEvent(i.watch, "lost", () => true, 5000)));
      await redis!.restart();
      await lost;
      await Promise.all([a, b, c].map((i) => nextEvent(i.watch, "ready", () => true, 15_000)));
      // The new relay's term is below the old one: subscribers must follow it all the same.
      expect(Number(await admin.get(`${prefix}term`))).toBeLessThan(termBefore);
      await expectDelivered([a, b, c], "UPDATE items SET name = 'after-redis-restart' WHERE id = 1");
    },
  );
});

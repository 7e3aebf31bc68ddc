import { EventEmitter } from "node:events";
import { type CacheWatch, type ChangeEvent, createCacheWatch, type InvalidateInfo } from "@pgcachewatch/core";
import { createRedisTier, type RedisTier } from "@pgcachewatch/redis";
import { redisForTests, type TestRedis } from "@pgcachewatch/testdb";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisBusDriver, redisDriver } from "bentocache/drivers/redis";
import pg from "pg";
import { createItems, ITEMS_BY_CATEGORY } from "../dataset.js";
import { connect, dropTriggers, installStatementTriggers } from "../environment.js";
import { int, ms, ns, pct, ratio } from "../format.js";
import { measureAsync, now, sleep, summarize } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import { Zipf } from "../zipf.js";
import type { ScenarioContext } from "./context.js";

const CATEGORIES = 50;
const INSTANCES = 3;
const KEYS = 1000;
const WRITE_SHARE = 0.05;
const READERS = 16;
const TABLE = "bento_rows";
const ROW_SQL = `SELECT id, version FROM ${TABLE} WHERE id = $1`;

interface Row {
  id: number;
  version: number;
}

type Bento = BentoCache<{ cache: ReturnType<typeof bentostore> }>;

/** bentocache as its docs set it up for many instances: memory (L1) + Redis (L2) + its Redis bus. */
function bento(
  redisUrl: string,
  prefix: string,
  options: { l1MaxItems?: number; emitter?: EventEmitter } = {},
) {
  const url = new URL(redisUrl);
  const connection = { host: url.hostname, port: Number(url.port || 6379) };
  const cache: Bento = new BentoCache({
    default: "cache",
    prefix,
    ...(options.emitter ? { emitter: options.emitter } : {}),
    stores: {
      cache: bentostore()
        .useL1Layer(memoryDriver({ maxItems: options.l1MaxItems ?? 10_000 }))
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
    },
  });
  return cache;
}

/**
 * PGCacheWatch and bentocache side by side on one Redis: what a hit costs in each tier, and how
 * many reads are stale in the zipfian 95/5 mix (the freshness scenario's definition) when three
 * app instances share the cache and another service writes with a raw pg connection.
 */
export async function runBentocache(context: ScenarioContext): Promise<SectionResult> {
  const result = section(
    "bentocache",
    "Side by side with bentocache (many instances, one Redis)",
    "bentocache 1.6 with a memory L1, a Redis L2 and its Redis bus, entries with a TTL and tags; PGCacheWatch with " +
      "its in-process first tier and @pgcachewatch/redis. Both on the same Redis. Hit cost: sequential awaited reads " +
      `of the 10-row query over ${CATEGORIES} keys; a second-tier hit is a read by an instance that keeps one entry in ` +
      "memory (bentocache: memory driver maxItems 1; ours: maxEntries 1).",
  );
  let redis: TestRedis | undefined;
  try {
    redis = await redisForTests();
  } catch (error) {
    result.notes.push(`Skipped: ${(error as Error).message}`);
    return result;
  }
  if (!redis) {
    result.notes.push("Skipped: no Redis (REDIS_URL unset and no redis-server binary).");
    return result;
  }
  try {
    await hitCosts(context, redis, result);
    await freshness(context, redis, result);
    result.notes.push(
      `Redis: ${redis.private ? "a private redis-server" : "REDIS_URL"} on this machine (loopback). bentocache's ` +
        "memory driver keeps its default serialize: true (entries stored as JSON, parsed on every L1 hit); every " +
        "read of an entry with tags also looks up each tag's invalidation time (bentocache's tags are timestamps " +
        "compared with the entry's creation time).",
    );
  } finally {
    await redis.stop();
  }
  return result;
}

async function hitCosts(context: ScenarioContext, redis: TestRedis, result: SectionResult): Promise<void> {
  const setup = await connect(context.url);
  await createItems(setup);
  await installStatementTriggers(setup, ["items"]);
  await setup.end();
  const pool = new pg.Pool({ connectionString: context.url, max: 2 });
  const keys = Array.from({ length: CATEGORIES }, (_, c) => `${ITEMS_BY_CATEGORY}\u0000[${c}]`);
  const query = async (c: number) => (await pool.query(ITEMS_BY_CATEGORY, [c])).rows;
  const hitIterations = context.quick ? 5_000 : 100_000;
  const tierIterations = context.quick ? 1_000 : 20_000;
  const queryIterations = context.quick ? 300 : 5_000;
  const ours: { watch: CacheWatch; tier: RedisTier }[] = [];
  const bentos: Bento[] = [];
  const prefix = `pgcw-vs-bento-${process.pid}`;
  try {
    const engine = async (maxEntries?: number) => {
      const tier = createRedisTier({ redis: redis.url, prefix: `{${prefix}}:` });
      const watch = createCacheWatch({
        connectionString: context.url,
        secondTier: tier,
        ...(maxEntries ? { maxEntries } : {}),
      });
      await watch.start();
      await tier.whenAvailable();
      ours.push({ watch, tier });
      return { watch, tier };
    };
    const ourRead = (watch: CacheWatch, i: number) => {
      const c = i % CATEGORIES;
      return watch.load({ key: keys[c] ?? "", tables: ["items"] }, () => query(c));
    };
    const bentoRead = (cache: Bento, i: number) => {
      const c = i % CATEGORIES;
      return cache.getOrSet({ key: `items:${c}`, factory: () => query(c), ttl: "5m", tags: ["items"] });
    };

    const uncached = await measureAsync((i) => query(i % CATEGORIES), {
      iterations: queryIterations,
      warmup: Math.min(500, queryIterations),
      batch: 100,
    });
    const filler = await engine();
    for (let c = 0; c < CATEGORIES; c++) await ourRead(filler.watch, c);
    for (let tries = 0; filler.tier.stats().fills < CATEGORIES && tries < 200; tries++) await sleep(10);
    const oursL1 = await measureAsync((i) => ourRead(filler.watch, i), {
      iterations: hitIterations,
      warmup: 5_000,
    });
    const oursReader = await engine(1);
    const oursL2 = await measureAsync((i) => ourRead(oursReader.watch, i), {
      iterations: tierIterations,
      warmup: Math.min(1_000, tierIterations),
      batch: 100,
    });
    const oursL2Hits = oursReader.tier.stats().hits;

    const bentoFiller = bento(redis.url, `${prefix}-hit`);
    bentos.push(bentoFiller);
    for (let c = 0; c < CATEGORIES; c++) await bentoRead(bentoFiller, c);
    const bentoL1 = await measureAsync((i) => bentoRead(bentoFiller, i), {
      iterations: hitIterations,
      warmup: 5_000,
    });
    const layers = new EventEmitter();
    let bentoL2Hits = 0;
    layers.on("cache:hit", (data: { key?: string; layer?: string }) => {
      if (data.layer === "l2" && !data.key?.includes("___bc:t:")) bentoL2Hits++;
    });
    const bentoReader = bento(redis.url, `${prefix}-hit`, { l1MaxItems: 1, emitter: layers });
    bentos.push(bentoReader);
    const bentoL2 = await measureAsync((i) => bentoRead(bentoReader, i), {
      iterations: tierIterations,
      warmup: Math.min(1_000, tierIterations),
      batch: 100,
    });
    for (const [name, hits] of [
      ["PGCacheWatch", oursL2Hits],
      ["bentocache", bentoL2Hits],
    ] as const) {
      if (hits < tierIterations) {
        result.notes.push(
          `${name}: only ${hits} second-tier hits of ${tierIterations} timed reads were counted.`,
        );
      }
    }
    const row = (label: string, cost: typeof uncached) => [
      label,
      ns(cost.perCall.p50),
      ns(cost.perCall.p99),
      ns(cost.batchedMean),
      ratio(uncached.perCall.p50 / cost.perCall.p50),
    ];
    result.tables.push({
      title: "Hit cost per tier",
      columns: ["read", "p50", "p99", "mean", "PostgreSQL/read (p50)"],
      rows: [
        row("PGCacheWatch first tier (in-process)", oursL1),
        row("bentocache L1 (memory)", bentoL1),
        row("PGCacheWatch second tier (Redis)", oursL2),
        row("bentocache L2 (Redis)", bentoL2),
        row("PostgreSQL (uncached)", uncached),
      ],
    });
    result.charts.push({
      title: "Hit cost per tier (log scale)",
      unit: "ns",
      log: true,
      series: ["p50", "p99"],
      groups: [
        { label: "ours, first tier", values: [oursL1.perCall.p50, oursL1.perCall.p99] },
        { label: "bentocache L1", values: [bentoL1.perCall.p50, bentoL1.perCall.p99] },
        { label: "ours, Redis", values: [oursL2.perCall.p50, oursL2.perCall.p99] },
        { label: "bentocache L2", values: [bentoL2.perCall.p50, bentoL2.perCall.p99] },
        { label: "PostgreSQL", values: [uncached.perCall.p50, uncached.perCall.p99] },
      ],
    });
  } finally {
    for (const { watch, tier } of ours) {
      await watch.stop();
      await tier.close();
    }
    for (const cache of bentos) await cache.disconnectAll().catch(() => {});
    await pool.end();
  }
}

/** One variant's three instances: a read on instance n, and what they tell about hits and events. */
interface Fleet {
  read(instance: number, id: number): Promise<Row | undefined>;
  /** Called once a write's COMMIT returned (bentocache "app deletes": the writer deletes the key). */
  afterWrite?(id: number): Promise<void>;
  /** Hits in memory and in Redis, and lookups, over the three instances. */
  counts(): { memory: number; redis: number; lookups: number };
  /** Change events applied so far by instance n (sources only). */
  eventsApplied(instance: number): number | undefined;
  /** COMMIT -> event applied, per write and instance (sources only). */
  arrivals?: number[][];
  close(): Promise<void>;
}

interface Variant {
  name: string;
  triggers: boolean;
  fleet: (pool: pg.Pool) => Promise<Fleet>;
}

interface MixCounts {
  seconds: number;
  reads: number;
  writes: number;
  memory: number;
  redis: number;
  lookups: number;
  stale: number;
  staleAfterEvent: number;
  staleAges: number[];
  deliveryDelays: number[] | undefined;
}

async function freshness(context: ScenarioContext, redis: TestRedis, result: SectionResult): Promise<void> {
  const seconds = context.quick ? 2 : 10;
  const admin = await connect(context.url);
  await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await admin.query(`CREATE TABLE ${TABLE} (id integer PRIMARY KEY, version integer NOT NULL)`);
  await admin.query(`INSERT INTO ${TABLE} SELECT g, 0 FROM generate_series(1, ${KEYS}) AS g`);
  let run = 0;
  const prefix = () => `pgcw-vs-bento-${process.pid}-${run++}`;
  const variants: Variant[] = [
    {
      name: "PGCacheWatch row-level (NOTIFY, Redis tier)",
      triggers: true,
      fleet: (pool) => ourFleet(context.url, redis.url, prefix(), pool, "row"),
    },
    {
      name: "PGCacheWatch table-level (NOTIFY, Redis tier)",
      triggers: true,
      fleet: (pool) => ourFleet(context.url, redis.url, prefix(), pool, "table"),
    },
    {
      name: "bentocache, TTL 1 s only",
      triggers: false,
      fleet: async (pool) => bentoFleet(redis.url, prefix(), pool, { ttl: 1000, deletes: false }),
    },
    {
      name: "bentocache, TTL 60 s, app deletes the row's tag after its write",
      triggers: false,
      fleet: async (pool) => bentoFleet(redis.url, prefix(), pool, { ttl: 60_000, deletes: true }),
    },
  ];
  const counts = new Map<string, MixCounts>();
  try {
    // A B C D D C B A, so a drift of the shared machine hits all alike.
    for (const variant of [...variants, ...[...variants].reverse()]) {
      await dropTriggers(admin, TABLE);
      if (variant.triggers) await installStatementTriggers(admin, [TABLE]);
      context.log(`bentocache freshness: ${variant.name}`);
      const measured = await runMix(context.url, seconds / 2, variant.fleet);
      const previous = counts.get(variant.name);
      counts.set(variant.name, previous ? add(previous, measured) : measured);
    }
  } finally {
    await dropTriggers(admin, TABLE).catch(() => {});
    await admin.end();
  }
  const runs = [...counts.entries()].map(([name, c]) => ({
    name,
    c,
    delivery: c.deliveryDelays ? summarize(c.deliveryDelays) : undefined,
    maxAge: c.staleAges.reduce((max, age) => Math.max(max, age), 0),
    beyond: c.staleAfterEvent,
  }));
  // As in the freshness scenario: the window is the slowest event delivery our sources showed;
  // bentocache has no events, its stale reads are beyond the window when older than it.
  const window = Math.max(0, ...runs.map((r) => r.delivery?.max ?? 0));
  for (const r of runs) if (!r.delivery) r.beyond = r.c.staleAges.filter((age) => age > window).length;
  result.tables.push({
    title: `Stale reads, zipfian 95/5 mix on ${INSTANCES} instances (${READERS} readers, raw pg writer)`,
    columns: [
      "variant",
      "ops/s",
      "hits memory / Redis",
      "stale reads",
      "stale beyond window",
      "max stale age",
      "event delivery p50/p99/max",
      "reads",
      "writes",
    ],
    rows: runs.map((r) => [
      r.name,
      int((r.c.reads + r.c.writes) / r.c.seconds),
      `${pct(r.c.memory / Math.max(1, r.c.lookups))} / ${pct(r.c.redis / Math.max(1, r.c.lookups))}`,
      `${int(r.c.stale)} (${pct(r.c.stale / Math.max(1, r.c.reads))})`,
      int(r.beyond),
      ms(r.maxAge),
      r.delivery ? `${ms(r.delivery.p50)} / ${ms(r.delivery.p99)} / ${ms(r.delivery.max)}` : "",
      int(r.c.reads),
      int(r.c.writes),
    ]),
  });
  result.notes.push(
    `Stale read (as in the freshness scenario): a version older than a write whose COMMIT returned before the read ` +
      `began. For PGCacheWatch a stale read is beyond the window when the reading instance had already applied the ` +
      `write's event when the read began; for bentocache, when it is older than the slowest event delivery measured ` +
      `in this run (${ms(window)}). Reader r reads through instance r mod ${INSTANCES}. "app deletes": after each ` +
      "COMMIT returned, the writing app calls deleteByTag for the row on its own instance (its bus tells the others).",
  );
  for (const r of runs.filter((x) => x.delivery)) {
    result.targets.push({
      target: `zero stale reads beyond the delivery window on ${INSTANCES} instances (${r.name})`,
      measured: `${int(r.beyond)} beyond, ${int(r.c.stale - r.beyond)} inside the window`,
      met: r.beyond === 0,
    });
  }
  result.charts.push({
    title: `Stale reads per 10,000 reads (${INSTANCES} instances)`,
    unit: "stale reads",
    log: false,
    series: ["stale", "beyond window"],
    groups: runs.map((r) => ({
      label: r.name,
      values: [(r.c.stale / Math.max(1, r.c.reads)) * 10_000, (r.beyond / Math.max(1, r.c.reads)) * 10_000],
    })),
  });
}

function add(a: MixCounts, b: MixCounts): MixCounts {
  return {
    seconds: a.seconds + b.seconds,
    reads: a.reads + b.reads,
    writes: a.writes + b.writes,
    memory: a.memory + b.memory,
    redis: a.redis + b.redis,
    lookups: a.lookups + b.lookups,
    stale: a.stale + b.stale,
    staleAfterEvent: a.staleAfterEvent + b.staleAfterEvent,
    staleAges: [...a.staleAges, ...b.staleAges],
    deliveryDelays:
      a.deliveryDelays && b.deliveryDelays ? [...a.deliveryDelays, ...b.deliveryDelays] : undefined,
  };
}

/** The freshness scenario's mix, with reader r on instance r mod INSTANCES. */
async function runMix(
  url: string,
  seconds: number,
  makeFleet: (pool: pg.Pool) => Promise<Fleet>,
): Promise<MixCounts> {
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  const writer = await connect(url);
  const fleet = await makeFleet(pool);
  const zipf = new Zipf(KEYS);
  const { rows: initial } = await writer.query<Row>(`SELECT id, version FROM ${TABLE}`);
  const history = new Map<number, { version: number; at: number; index: number }[]>();
  for (const row of initial) history.set(row.id, [{ version: row.version, at: 0, index: 0 }]);
  let writesReturned = 0;
  let reads = 0;
  let stale = 0;
  let beyond = 0;
  const staleAges: number[] = [];
  const returnedAt: number[] = [];

  const write = async (id: number) => {
    const { rows } = await writer.query<{ version: number }>({
      name: "bento-write",
      text: `UPDATE ${TABLE} SET version = version + 1 WHERE id = $1 RETURNING version`,
      values: [id],
    });
    const at = now();
    writesReturned++;
    returnedAt[writesReturned] = at;
    history.get(id)?.push({ version: rows[0]?.version ?? 0, at, index: writesReturned });
    await fleet.afterWrite?.(id);
  };
  const check = async (instance: number, id: number) => {
    const started = now();
    const versions = history.get(id) ?? [];
    const latest = versions[versions.length - 1]?.version ?? 0;
    const applied = fleet.eventsApplied(instance);
    const row = await fleet.read(instance, id);
    reads++;
    const got = row?.version ?? 0;
    if (got >= latest) return;
    const missed = versions.find((v) => v.version > got);
    if (!missed) return;
    stale++;
    staleAges.push(started - missed.at);
    if (applied !== undefined && applied >= missed.index) beyond++;
  };

  const readsPerWrite = (1 - WRITE_SHARE) / WRITE_SHARE;
  let running = true;
  let wakeWriter: (() => void) | undefined;
  let wakeReaders: (() => void)[] = [];
  const readers = Array.from({ length: READERS }, async (_, r) => {
    while (running) {
      if (reads > (writesReturned + READERS) * readsPerWrite) {
        await new Promise<void>((resolve) => wakeReaders.push(resolve));
        continue;
      }
      await check(r % INSTANCES, zipf.next());
      if (reads >= (writesReturned + 1) * readsPerWrite) wakeWriter?.();
    }
  });
  const writerLoop = (async () => {
    while (running) {
      if (reads < (writesReturned + 1) * readsPerWrite) {
        await new Promise<void>((resolve) => {
          wakeWriter = resolve;
          setTimeout(resolve, 50).unref();
        });
        continue;
      }
      await write(zipf.next());
      const waiting = wakeReaders;
      wakeReaders = [];
      for (const wake of waiting) wake();
    }
  })();
  const started = now();
  await sleep(seconds * 1000);
  running = false;
  wakeWriter?.();
  for (const wake of wakeReaders) wake();
  await Promise.all([...readers, writerLoop]);
  const elapsed = (now() - started) / 1000;
  let deliveryDelays: number[] | undefined;
  if (fleet.arrivals) {
    deliveryDelays = [];
    for (const arrivals of fleet.arrivals) {
      for (let i = 1; i < arrivals.length && i < returnedAt.length; i++) {
        const arrived = arrivals[i];
        const returned = returnedAt[i];
        if (arrived !== undefined && returned !== undefined)
          deliveryDelays.push(Math.max(0, arrived - returned));
      }
    }
  }
  const { memory, redis, lookups } = fleet.counts();
  await fleet.close();
  await writer.end();
  await pool.end();
  return {
    seconds: elapsed,
    reads,
    writes: writesReturned,
    memory,
    redis,
    lookups,
    stale,
    staleAfterEvent: beyond,
    staleAges,
    deliveryDelays,
  };
}

/** Three engines, each with its own LISTEN and first tier, sharing one Redis tier. */
async function ourFleet(
  url: string,
  redisUrl: string,
  prefix: string,
  pool: pg.Pool,
  granularity: "row" | "table",
): Promise<Fleet> {
  const members: { watch: CacheWatch; tier: RedisTier; applied: number; arrivals: number[] }[] = [];
  for (let n = 0; n < INSTANCES; n++) {
    const tier = createRedisTier({ redis: redisUrl, prefix: `{${prefix}}:` });
    const watch = createCacheWatch({ connectionString: url, ttl: 0, secondTier: tier });
    const member = { watch, tier, applied: 0, arrivals: [] as number[] };
    // Count each change once (as the freshness scenario does).
    const seen = new WeakSet<ChangeEvent>();
    let lastReceivedAt = 0;
    watch.on("invalidate", (info: InvalidateInfo) => {
      const event = info.event;
      if (info.reason !== "change" || !event || !info.tables.includes(`public.${TABLE}`)) return;
      if (seen.has(event) || event.receivedAt < lastReceivedAt) return;
      seen.add(event);
      lastReceivedAt = event.receivedAt;
      member.applied++;
      member.arrivals[member.applied] = now();
    });
    await watch.start();
    await tier.whenAvailable();
    members.push(member);
  }
  const at = members.map((m) => ({ engine: m.watch.stats(), tier: m.tier.stats() }));
  return {
    read: (instance, id) => {
      const { watch } = members[instance] as (typeof members)[number];
      return granularity === "row"
        ? watch.query<Row>(pool, ROW_SQL, [id]).then((r) => r.rows[0])
        : watch.load({ key: `bento-rows:${id}`, tables: [TABLE] }, async () => {
            const { rows } = await pool.query<Row>({ name: "bento-read", text: ROW_SQL, values: [id] });
            return rows[0];
          });
    },
    counts: () => {
      let memory = 0;
      let redis = 0;
      let lookups = 0;
      members.forEach((m, i) => {
        const engine = m.watch.stats();
        const start = at[i] as (typeof at)[number];
        memory += engine.hits - start.engine.hits;
        redis += m.tier.stats().hits - start.tier.hits;
        lookups += engine.hits + engine.misses - start.engine.hits - start.engine.misses;
      });
      return { memory, redis, lookups };
    },
    eventsApplied: (instance) => members[instance]?.applied,
    arrivals: members.map((m) => m.arrivals),
    close: async () => {
      for (const m of members) {
        await m.watch.stop();
        await m.tier.close();
      }
    },
  };
}

/** Three bentocache instances (memory + Redis + bus) on one prefix: TTL and tags, no database events. */
function bentoFleet(
  redisUrl: string,
  prefix: string,
  pool: pg.Pool,
  options: { ttl: number; deletes: boolean },
): Fleet {
  let memory = 0;
  let redis = 0;
  let lookups = 0;
  const emitter = new EventEmitter();
  emitter.on("cache:hit", (data: { key?: string; layer?: string }) => {
    // Its tag checks are lookups of its own (keys "___bc:t:<tag>"): not reads of the workload.
    if (data.key?.includes("___bc:t:")) return;
    if (data.layer === "l2") redis++;
    else memory++;
  });
  const caches = Array.from({ length: INSTANCES }, () => bento(redisUrl, prefix, { emitter }));
  return {
    read: (instance, id) => {
      lookups++;
      const cache = caches[instance] as Bento;
      return cache.getOrSet({
        key: `row:${id}`,
        ttl: options.ttl,
        tags: [TABLE, `${TABLE}:${id}`],
        factory: async () => {
          const { rows } = await pool.query<Row>({ name: "bento-read", text: ROW_SQL, values: [id] });
          return rows[0] ?? null;
        },
      }) as Promise<Row | undefined>;
    },
    ...(options.deletes
      ? {
          afterWrite: async (id: number) => {
            await (caches[0] as Bento).deleteByTag({ tags: [`${TABLE}:${id}`] });
          },
        }
      : {}),
    counts: () => ({ memory, redis, lookups }),
    eventsApplied: () => undefined,
    close: async () => {
      for (const cache of caches) await cache.disconnectAll().catch(() => {});
    },
  };
}

import { type CacheWatch, type ChangeSource, createCacheWatch, NotifySource } from "@pgcachewatch/core";
import { createBusSource, createRedisTier, type RedisTier } from "@pgcachewatch/redis";
import { redisForTests, type TestRedis } from "@pgcachewatch/testdb";
import pg from "pg";
import { createItems, ITEMS_BY_CATEGORY } from "../dataset.js";
import { connect, installStatementTriggers } from "../environment.js";
import { ms, ns, ratio } from "../format.js";
import { measureAsync, summarize } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import type { ScenarioContext } from "./context.js";

const CATEGORIES = 50;

/**
 * The shared Redis tier: what a second-tier hit costs next to a first-tier hit and next to
 * PostgreSQL, and what a new instance's first reads cost when Redis is warm against cold.
 */
export async function runSecondTier(context: ScenarioContext): Promise<SectionResult> {
  const result = section(
    "tier",
    "Second tier (Redis)",
    "Sequential awaited reads of the 10-row query over 50 keys. A second-tier hit is a read whose " +
      "process keeps one entry (maxEntries 1), so every read misses in memory and hits Redis; " +
      "'new instance' is the mean of its first 50 reads after start, Redis warm or cold.",
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
  const setup = await connect(context.url);
  await createItems(setup);
  await installStatementTriggers(setup, ["items"]);
  await setup.end();
  const pool = new pg.Pool({ connectionString: context.url, max: 2 });
  const prefix = `{pgcw-bench-${process.pid}}:`;
  const started: { watch: CacheWatch; tier?: RedisTier }[] = [];
  const instance = async (options: {
    tier: boolean;
    maxEntries?: number;
    prefix?: string;
    source?: ChangeSource;
  }) => {
    const tier = options.tier
      ? createRedisTier({ redis: redis.url, prefix: options.prefix ?? prefix })
      : undefined;
    const watch = createCacheWatch({
      connectionString: context.url,
      ...(tier ? { secondTier: tier } : {}),
      ...(options.maxEntries ? { maxEntries: options.maxEntries } : {}),
      ...(options.source ? { source: options.source } : {}),
    });
    await watch.start();
    await tier?.whenAvailable();
    started.push({ watch, ...(tier ? { tier } : {}) });
    return { watch, tier };
  };
  const keys = Array.from({ length: CATEGORIES }, (_, c) => `${ITEMS_BY_CATEGORY}\u0000[${c}]`);
  const query = async (c: number) => (await pool.query(ITEMS_BY_CATEGORY, [c])).rows;
  const read = (watch: CacheWatch, i: number) => {
    const c = i % CATEGORIES;
    return watch.load({ key: keys[c] ?? "", tables: ["items"] }, () => query(c));
  };
  const hitIterations = context.quick ? 5_000 : 100_000;
  const tierIterations = context.quick ? 1_000 : 20_000;
  const queryIterations = context.quick ? 300 : 5_000;
  try {
    const uncached = await measureAsync((i) => query(i % CATEGORIES), {
      iterations: queryIterations,
      warmup: Math.min(500, queryIterations),
      batch: 100,
    });
    const filler = await instance({ tier: true });
    for (let c = 0; c < CATEGORIES; c++) await read(filler.watch, c);
    const filled = async () => (filler.tier?.stats().fills ?? 0) >= CATEGORIES;
    for (let tries = 0; !(await filled()) && tries < 200; tries++)
      await new Promise((r) => setTimeout(r, 10));
    const firstTier = await measureAsync((i) => read(filler.watch, i), {
      iterations: hitIterations,
      warmup: 5_000,
    });

    const reader = await instance({ tier: true, maxEntries: 1 });
    const secondTier = await measureAsync((i) => read(reader.watch, i), {
      iterations: tierIterations,
      warmup: Math.min(1_000, tierIterations),
      batch: 100,
    });
    const tierStats = reader.tier?.stats();
    if (tierStats && tierStats.hits < tierIterations) {
      result.notes.push(`Only ${tierStats.hits} second-tier hits of ${tierIterations} reads were counted.`);
    }

    const firstReads = async (watch: CacheWatch) => {
      const t0 = performance.now();
      for (let c = 0; c < CATEGORIES; c++) await read(watch, c);
      return (performance.now() - t0) / CATEGORIES; // ms
    };
    const warm = await firstReads((await instance({ tier: true })).watch);
    const cold = await firstReads(
      (await instance({ tier: true, prefix: `{pgcw-bench-cold-${process.pid}}:` })).watch,
    );

    // The same reads on 3 instances: how many reach PostgreSQL, with and without the shared tier.
    const fleetQueries = async (tier: boolean) => {
      const fleetPrefix = `{pgcw-bench-fleet-${tier}-${process.pid}}:`;
      const fleet = [];
      for (let n = 0; n < 3; n++) fleet.push(await instance({ tier, prefix: fleetPrefix }));
      for (const member of fleet) {
        for (let c = 0; c < CATEGORIES; c++) await read(member.watch, c);
        // Let this instance's fills reach Redis before the next one reads.
        for (let tries = 0; tier && (member.tier?.stats().fills ?? 0) < CATEGORIES && tries < 200; tries++) {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      return fleet.reduce((sum, member) => sum + member.watch.stats().loads, 0);
    };
    const queriesAlone = await fleetQueries(false);
    const queriesShared = await fleetQueries(true);

    // COMMIT -> invalidated in every one of 3 instances: each with its own LISTEN, or one relay and the bus.
    const writes = context.quick ? 20 : 200;
    const setupWriter = await connect(context.url);
    const fanOut = async (sources: () => ChangeSource | undefined) => {
      const fleet = [];
      for (let n = 0; n < 3; n++) {
        const source = sources();
        fleet.push(await instance({ tier: false, ...(source ? { source } : {}) }));
      }
      const samples: number[] = [];
      for (let w = 0; w < writes; w++) {
        const c = w % CATEGORIES;
        for (const member of fleet) await read(member.watch, c);
        const t0 = performance.now();
        const seen = fleet.map(
          (member) =>
            new Promise<number>((resolve) => {
              const onInvalidate = (info: { reason: string }) => {
                if (info.reason !== "change") return;
                member.watch.off("invalidate", onInvalidate);
                resolve(performance.now());
              };
              member.watch.on("invalidate", onInvalidate);
            }),
        );
        await setupWriter.query("UPDATE items SET price = price WHERE id = $1", [c + 1]);
        const times = await Promise.all(seen);
        samples.push(Math.max(...times) - t0);
      }
      for (const member of fleet) await member.watch.stop();
      return summarize(samples);
    };
    const direct = await fanOut(() => undefined);
    const busPrefix = `{pgcw-bench-bus-${process.pid}}:`;
    const viaBus = await fanOut(() =>
      createBusSource({
        redis: redis.url,
        prefix: busPrefix,
        relaySource: () => new NotifySource({ connectionString: context.url, channel: "pgcachewatch" }),
      }),
    );
    await setupWriter.end();

    result.tables.push({
      title: "Read cost by tier",
      columns: ["read", "p50", "p99", "mean", "PostgreSQL/read (p50)"],
      rows: [
        [
          "first tier (in-process) hit",
          ns(firstTier.perCall.p50),
          ns(firstTier.perCall.p99),
          ns(firstTier.batchedMean),
          ratio(uncached.perCall.p50 / firstTier.perCall.p50),
        ],
        [
          "second tier (Redis) hit",
          ns(secondTier.perCall.p50),
          ns(secondTier.perCall.p99),
          ns(secondTier.batchedMean),
          ratio(uncached.perCall.p50 / secondTier.perCall.p50),
        ],
        [
          "PostgreSQL (uncached)",
          ns(uncached.perCall.p50),
          ns(uncached.perCall.p99),
          ns(uncached.batchedMean),
          "1x",
        ],
      ],
    });
    result.tables.push({
      title: "A new instance's first reads (mean per read)",
      columns: ["Redis", "mean per read", "cold/warm"],
      rows: [
        ["warm (filled by another instance)", ms(warm), ratio(cold / warm)],
        ["cold (empty)", ms(cold), "1x"],
      ],
    });
    result.tables.push({
      title: `3 instances, each reading the same ${CATEGORIES} keys once`,
      columns: ["shared tier", "PostgreSQL queries"],
      rows: [
        ["none (each instance alone)", String(queriesAlone)],
        ["Redis", String(queriesShared)],
      ],
    });
    result.tables.push({
      title: `UPDATE sent -> invalidated in all 3 instances (${writes} writes)`,
      columns: ["change source", "p50", "p99", "max", "listener connections"],
      rows: [
        ["LISTEN in every instance", ms(direct.p50), ms(direct.p99), ms(direct.max), "3"],
        ["bus (one relay, Redis pub/sub)", ms(viaBus.p50), ms(viaBus.p99), ms(viaBus.max), "1"],
      ],
    });
    result.charts.push({
      title: "Read cost by tier (log scale)",
      unit: "ns",
      log: true,
      series: ["p50", "p99"],
      groups: [
        { label: "first tier hit", values: [firstTier.perCall.p50, firstTier.perCall.p99] },
        { label: "second tier hit", values: [secondTier.perCall.p50, secondTier.perCall.p99] },
        { label: "PostgreSQL", values: [uncached.perCall.p50, uncached.perCall.p99] },
      ],
    });
    result.notes.push(
      `Redis: ${redis.private ? "a private redis-server" : "REDIS_URL"} on this machine (loopback).`,
    );
  } finally {
    for (const { watch, tier } of started) {
      await watch.stop();
      await tier?.close();
    }
    await pool.end();
    await redis.stop();
  }
  return result;
}

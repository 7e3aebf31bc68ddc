import { type CacheWatch, type CacheWatchOptions, createCacheWatch } from "@pgcachewatch/core";
import { createRedisTier, type RedisTier, type RedisTierStats } from "@pgcachewatch/redis";
import type { TestRedis } from "@pgcachewatch/testdb";
import { Redis } from "ioredis";
import pg from "pg";
import type { Fault, FaultOutcome } from "./faults/fault.js";
import { coreReadPaths } from "./readers.js";
import { sleep, waitUntil } from "./sleep.js";
import { DEFAULT_WORKLOAD_TABLE } from "./workload-schema.js";

export interface RedisFleetOptions {
  redis: TestRedis;
  /** Instances in all, the checked one included. */
  instances: number;
  rowCount: number;
}

/**
 * The checked engine gets a Redis tier and a first tier of 4 entries, so most of its reads are
 * answered by Redis; the other instances share that Redis and fill it from their own loads. They
 * have no change source (`source: "none"`): they never invalidate Redis nor vouch for it, so every
 * entry they store must pass the fill guard against the marks the checked engine writes, and is
 * served only while the checked engine's source covers it. Their own reads are not checked.
 */
export class RedisFleet {
  readonly #options: RedisFleetOptions;
  readonly #prefix = `{pgcw-chaos-${process.pid}}:`;
  readonly primaryTier: RedisTier;
  readonly #others: { watch: CacheWatch; tier: RedisTier; pool: pg.Pool }[] = [];
  #stopped = false;
  #loops: Promise<void>[] = [];

  constructor(options: RedisFleetOptions) {
    this.#options = options;
    this.primaryTier = createRedisTier({ redis: options.redis.url, prefix: this.#prefix, coverage: 1500 });
  }

  /** Options for the checked engine. */
  engine(): Partial<CacheWatchOptions> {
    return { secondTier: this.primaryTier, maxEntries: 4 };
  }

  /** Start the other instances and their read loops (as an `extraReadPaths` hook: adds no checked path). */
  async startOthers(url: string): Promise<[]> {
    for (let n = 1; n < this.#options.instances; n++) {
      const tier = createRedisTier({ redis: this.#options.redis.url, prefix: this.#prefix, coverage: 1500 });
      const shared = createCacheWatch({
        connectionString: url,
        source: "none",
        maxEntries: 4,
        secondTier: tier,
      });
      await shared.start();
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      pool.on("error", () => {});
      this.#others.push({ watch: shared, tier, pool });
      const paths = coreReadPaths(shared, pool, DEFAULT_WORKLOAD_TABLE);
      this.#loops.push(
        (async () => {
          while (!this.#stopped) {
            const path = paths[Math.floor(Math.random() * paths.length)];
            const id = 1 + Math.floor(Math.random() * this.#options.rowCount);
            await (Math.random() < 0.1 ? path?.readAll() : path?.readRow(id))?.catch(() => {});
            await sleep(Math.random() * 3);
          }
        })(),
      );
    }
    return [];
  }

  faults(): Fault[] {
    const redis = this.#options.redis;
    const fleet = this;
    const backWithin = async (kind: string, recoveriesBefore: number, ms: number): Promise<FaultOutcome> => {
      const back = await waitUntil(
        () => fleet.primaryTier.stats().available && fleet.primaryTier.stats().recoveries > recoveriesBefore,
        ms,
      );
      return { kind, ok: back, ...(back ? {} : { detail: "the Redis tier did not come back" }) };
    };
    const clientKill: Fault = {
      kind: "redis tier connections killed",
      async inject() {
        const before = fleet.primaryTier.stats().recoveries;
        const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
        try {
          const list = String(await admin.client("LIST"));
          for (const match of list.matchAll(/id=(\d+) [^\n]*name=pgcachewatch-tier-/g)) {
            await admin.client("KILL", "ID", match[1] ?? "0").catch(() => {});
          }
        } finally {
          admin.disconnect();
        }
        return backWithin(this.kind, before, 10_000);
      },
    };
    const restart: Fault = {
      kind: "redis restart",
      async inject() {
        const before = fleet.primaryTier.stats().recoveries;
        await redis.kill();
        await sleep(300);
        await redis.restart();
        return backWithin(this.kind, before, 15_000);
      },
    };
    return redis.private ? [clientKill, restart] : [clientKill];
  }

  stats(): { checked: RedisTierStats; others: RedisTierStats[] } {
    return { checked: this.primaryTier.stats(), others: this.#others.map((o) => o.tier.stats()) };
  }

  async close(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    for (const other of this.#others) {
      await other.watch.stop();
      await other.tier.close();
      await other.pool.end();
    }
    await this.primaryTier.close();
  }
}

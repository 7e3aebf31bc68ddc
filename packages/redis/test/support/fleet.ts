import { randomBytes } from "node:crypto";
import { type CacheWatch, type CacheWatchOptions, createCacheWatch } from "@pgcachewatch/core";
import { Redis } from "ioredis";
import type pg from "pg";
import { createRedisTier, type RedisTier, type RedisTierOptions } from "../../src/index.js";

/** A key prefix of its own per test file, so files can share one Redis. */
export function testPrefix(label: string): string {
  return `{pgcw-test-${label}-${randomBytes(3).toString("hex")}}:`;
}

/** One app instance: its own engine and its own tier connection, on the fleet's shared Redis. */
export interface Instance {
  readonly name: string;
  readonly watch: CacheWatch;
  readonly tier: RedisTier;
  /** Times this instance's loaders ran (database reads). */
  loads: number;
  read<T>(key: string, table: string, sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startInstance(
  name: string,
  pool: pg.Pool,
  tierOptions: RedisTierOptions,
  engineOptions: CacheWatchOptions,
): Promise<Instance> {
  const tier = createRedisTier(tierOptions);
  const watch = createCacheWatch({ heartbeatInterval: 1000, ...engineOptions, secondTier: tier });
  await watch.start();
  await tier.whenAvailable();
  const instance: Instance = {
    name,
    watch,
    tier,
    loads: 0,
    read: <T>(key: string, table: string, sql: string, params: unknown[] = []) =>
      watch.load({ key, tables: [table] }, async () => {
        instance.loads++;
        return (await pool.query(sql, params)).rows as T[];
      }),
    stop: async () => {
      await watch.stop();
      await tier.close();
    },
  };
  return instance;
}

/** A plain client for looking at (and breaking) the shared Redis from the test. */
export function adminRedis(url: string): Redis {
  const admin = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  // A test that restarts Redis sees this client reconnect: not an error worth printing.
  admin.on("error", () => {});
  return admin;
}

/** Resolve once every command `tier` sent before has been executed by Redis (one connection, in order). */
export async function settled(tier: RedisTier): Promise<void> {
  await tier.get("\u0000settle");
}

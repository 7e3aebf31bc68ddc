import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CacheWatchOptions } from "@pgcachewatch/core";
import { createRedisTier, type RedisTier, type RedisTierStats } from "@pgcachewatch/redis";
import type { TestRedis } from "@pgcachewatch/testdb";
import { Redis } from "ioredis";
import type { Fault, FaultOutcome } from "./faults/fault.js";
import { sleep, waitUntil } from "./sleep.js";

export interface RedisFleetOptions {
  redis: TestRedis;
  /** Instances in all, the checked one included. */
  instances: number;
  rowCount: number;
}

/**
 * The checked engine gets a Redis tier and a first tier of 4 entries, so most of its reads are
 * answered by Redis; the other instances (separate processes, see redis-instance.ts) share that
 * Redis and fill it from their own loads. They have no change source (`source: "none"`): they never invalidate Redis nor vouch for it, so every
 * entry they store must pass the fill guard against the marks the checked engine writes, and is
 * served only while the checked engine's source covers it. Their own reads are not checked.
 */
export class RedisFleet {
  readonly #options: RedisFleetOptions;
  readonly #prefix = `{pgcw-chaos-${process.pid}}:`;
  readonly primaryTier: RedisTier;
  readonly #others: { child: ChildProcess; output: string }[] = [];
  readonly #othersStats: (RedisTierStats | undefined)[] = [];

  constructor(options: RedisFleetOptions) {
    this.#options = options;
    this.primaryTier = createRedisTier({ redis: options.redis.url, prefix: this.#prefix, coverage: 1500 });
  }

  /** Options for the checked engine. */
  engine(): Partial<CacheWatchOptions> {
    return { secondTier: this.primaryTier, maxEntries: 4 };
  }

  /** Start the other instances, each in its own process (as an `extraReadPaths` hook: adds no checked path). */
  async startOthers(url: string): Promise<[]> {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const tsx = pathToFileURL(createRequire(`${root}package.json`).resolve("tsx")).href;
    const script = fileURLToPath(new URL("./redis-instance.ts", import.meta.url));
    for (let n = 1; n < this.#options.instances; n++) {
      const child = spawn(process.execPath, ["--conditions=@pgcachewatch/source", "--import", tsx, script], {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: url,
          REDIS_URL: this.#options.redis.url,
          PREFIX: this.#prefix,
          ROWS: String(this.#options.rowCount),
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      const other = { child, output: "" };
      child.stdout?.on("data", (data: Buffer) => {
        other.output += data.toString();
      });
      this.#others.push(other);
      if (!(await waitUntil(() => other.output.includes("started"), 30_000))) {
        throw new Error("an instance process did not start within 30 s");
      }
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

  /** The tiers' counters; the other processes report theirs once closed. */
  stats(): { checked: RedisTierStats; others: (RedisTierStats | undefined)[] } {
    return { checked: this.primaryTier.stats(), others: this.#othersStats };
  }

  async close(): Promise<void> {
    for (const other of this.#others) {
      const exited = new Promise((resolve) => {
        if (other.child.exitCode !== null) resolve(undefined);
        else other.child.once("exit", resolve);
      });
      other.child.kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) other.child.kill("SIGKILL");
      const line = other.output.trim().split("\n").at(-1) ?? "";
      try {
        this.#othersStats.push(JSON.parse(line) as RedisTierStats);
      } catch {
        this.#othersStats.push(undefined);
      }
    }
    this.#others.length = 0;
    await this.primaryTier.close();
  }
}

import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type CacheWatchOptions, NotifySource } from "@pgcachewatch/core";
import {
  type BusSource,
  createBusSource,
  createRedisTier,
  type RedisTier,
  type RedisTierStats,
} from "@pgcachewatch/redis";
import type { TestRedis } from "@pgcachewatch/testdb";
import { Redis } from "ioredis";
import { eventWithin, type Fault, type FaultContext, type FaultOutcome } from "./faults/fault.js";
import { sleep, waitUntil } from "./sleep.js";

export interface RedisFleetOptions {
  redis: TestRedis;
  /** Instances in all, the checked one included. */
  instances: number;
  rowCount: number;
  /**
   * Every instance's change source is the bus (one elected relay, in one of the other processes,
   * runs the fleet's only LISTEN). Without it the checked engine listens itself and the others have
   * no source.
   */
  bus: boolean;
  heartbeatInterval: number;
  channel?: string;
}

/** What an instance process reported as it stopped ("killed" when a fault killed it). */
export type InstanceReport =
  | { tier: RedisTierStats; bus: BusSource["counts"] | null }
  | "killed"
  | "no report";

interface Other {
  child: ChildProcess;
  output: string;
  /** The bus instance id it printed (bus mode). */
  id?: string;
}

/** A relay that is not back this long after a fault failed over too slowly. */
const FAILOVER_LIMIT_MS = 10_000;

/**
 * The checked engine gets a Redis tier and a first tier of 4 entries, so most of its reads are
 * answered by Redis; the other instances (separate processes, see redis-instance.ts) share that
 * Redis and fill it from their own loads. Their own reads are not checked.
 *
 * In bus mode the checked engine is a bus subscriber that never relays, so the relay always runs in
 * another process, the one the relay faults kill. Without the bus the others have no change source
 * (`source: "none"`): every entry they store must pass the fill guard against the marks the checked
 * engine writes, and is served only while the checked engine's source covers it.
 */
export class RedisFleet {
  readonly #options: RedisFleetOptions;
  readonly #prefix = `{pgcw-chaos-${process.pid}}:`;
  readonly primaryTier: RedisTier;
  readonly primaryBus: BusSource | undefined;
  readonly #others: Other[] = [];
  readonly #reports: InstanceReport[] = [];
  /** Relay kill -> the checked engine ready again, in ms. */
  readonly failovers: number[] = [];
  #url = "";

  constructor(options: RedisFleetOptions) {
    this.#options = options;
    this.primaryTier = createRedisTier({ redis: options.redis.url, prefix: this.#prefix, coverage: 1500 });
    this.primaryBus = options.bus
      ? createBusSource({
          redis: options.redis.url,
          prefix: this.#prefix,
          heartbeatInterval: options.heartbeatInterval,
          canRelay: false,
          // Never called: this instance does not stand for election.
          relaySource: () =>
            new NotifySource({ connectionString: this.#url, channel: options.channel ?? "pgcachewatch" }),
        })
      : undefined;
  }

  /** Options for the checked engine. */
  engine(): Partial<CacheWatchOptions> {
    return {
      secondTier: this.primaryTier,
      maxEntries: 4,
      ...(this.primaryBus ? { source: this.primaryBus } : {}),
    };
  }

  /**
   * How long a change may go undelivered without anyone noticing: for the bus, its silence timeout
   * (a dead relay is noticed by the heartbeats that stop).
   */
  detectionMs(): number {
    return this.#options.bus ? 4 * this.#options.heartbeatInterval : 2 * this.#options.heartbeatInterval;
  }

  /** Start the other instances, each in its own process (as an `extraReadPaths` hook: adds no checked path). */
  async startOthers(url: string): Promise<[]> {
    // Under the bus they start first: the checked engine is ready only once one of them relays.
    if (this.#url !== "") return [];
    this.#url = url;
    for (let n = 1; n < this.#options.instances; n++) await this.#spawn();
    if (this.#options.bus && !(await waitUntil(() => this.#relay() !== undefined, 30_000))) {
      throw new Error("no instance became the relay within 30 s");
    }
    return [];
  }

  async #spawn(): Promise<Other> {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const tsx = pathToFileURL(createRequire(`${root}package.json`).resolve("tsx")).href;
    const script = fileURLToPath(new URL("./redis-instance.ts", import.meta.url));
    const child = spawn(process.execPath, ["--conditions=@pgcachewatch/source", "--import", tsx, script], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: this.#url,
        REDIS_URL: this.#options.redis.url,
        PREFIX: this.#prefix,
        ROWS: String(this.#options.rowCount),
        CHANNEL: this.#options.channel ?? "pgcachewatch",
        BUS: this.#options.bus ? "1" : "0",
        HEARTBEAT: String(this.#options.heartbeatInterval),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const other: Other = { child, output: "" };
    child.stdout?.on("data", (data: Buffer) => {
      other.output += data.toString();
      other.id ??= /^id (\S+)$/m.exec(other.output)?.[1];
    });
    this.#others.push(other);
    if (!(await waitUntil(() => other.output.includes("started"), 30_000))) {
      throw new Error("an instance process did not start within 30 s");
    }
    return other;
  }

  /** The process that says it is the relay now (its last relay/follower line). */
  #relay(): Other | undefined {
    return this.#others.find((o) => {
      const states = o.output.match(/^(relay|follower)$/gm);
      return states?.at(-1) === "relay";
    });
  }

  faults(): Fault[] {
    const redis = this.#options.redis;
    const fleet = this;
    const prefix = this.#prefix;
    const admin = () => new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const killClients = async (pattern: RegExp) => {
      const client = admin();
      try {
        const list = String(await client.client("LIST"));
        let n = 0;
        for (const match of list.matchAll(pattern)) {
          await client.client("KILL", "ID", match[1] ?? "0").then(
            () => n++,
            () => {},
          );
        }
        return n;
      } finally {
        client.disconnect();
      }
    };
    const tierBack = (recoveriesBefore: number, ms: number) =>
      waitUntil(
        () => fleet.primaryTier.stats().available && fleet.primaryTier.stats().recoveries > recoveriesBefore,
        ms,
      );
    /** The checked engine must lose its bus and be ready again in time. */
    const busLostAndBack = async (
      kind: string,
      { watch }: FaultContext,
      inject: () => Promise<string | undefined>,
      failover?: number[],
    ): Promise<FaultOutcome> => {
      if (!watch.isServing()) return { kind, ok: false, detail: "engine was not serving" };
      const lost = eventWithin(watch, "lost", FAILOVER_LIMIT_MS);
      const ready = eventWithin(watch, "ready", 30_000);
      const t0 = performance.now();
      const problem = await inject();
      if (problem !== undefined) {
        lost.cancel();
        ready.cancel();
        return { kind, ok: false, detail: problem };
      }
      const wasLost = await lost.promise;
      const back = wasLost && (await ready.promise);
      const took = performance.now() - t0;
      if (!wasLost) ready.cancel();
      failover?.push(took);
      const ok = wasLost && back && took <= FAILOVER_LIMIT_MS;
      return {
        kind,
        ok,
        ...(ok
          ? {}
          : {
              detail: !wasLost
                ? "loss not noticed"
                : back
                  ? `ready again only after ${Math.round(took)} ms`
                  : "not ready again",
            }),
      };
    };

    const tierKill: Fault = {
      kind: "redis tier connections killed",
      async inject() {
        const before = fleet.primaryTier.stats().recoveries;
        await killClients(/id=(\d+) [^\n]*name=pgcachewatch-tier-/g);
        const back = await tierBack(before, 10_000);
        return { kind: this.kind, ok: back, ...(back ? {} : { detail: "the Redis tier did not come back" }) };
      },
    };
    const restart: Fault = {
      kind: "redis restart",
      async inject(context) {
        const before = fleet.primaryTier.stats().recoveries;
        const restartRedis = async () => {
          await redis.kill();
          await sleep(300);
          await redis.restart();
          return undefined;
        };
        if (fleet.#options.bus) {
          const outcome = await busLostAndBack(this.kind, context, restartRedis);
          const back = await tierBack(before, 15_000);
          return back ? outcome : { kind: this.kind, ok: false, detail: "the Redis tier did not come back" };
        }
        await restartRedis();
        const back = await tierBack(before, 15_000);
        return { kind: this.kind, ok: back, ...(back ? {} : { detail: "the Redis tier did not come back" }) };
      },
    };
    const relayKill: Fault = {
      kind: "relay process killed",
      inject: (context) =>
        busLostAndBack(
          relayKill.kind,
          context,
          async () => {
            const victim = fleet.#relay();
            if (victim === undefined) return "no process is the relay";
            victim.child.kill("SIGKILL");
            fleet.#others.splice(fleet.#others.indexOf(victim), 1);
            fleet.#reports.push("killed");
            // A new process takes the dead one's place (a restarted pod), while the others fail over.
            void fleet.#spawn().catch(() => {});
            return undefined;
          },
          fleet.failovers,
        ),
    };
    const lockDrop: Fault = {
      kind: "relay lock deleted",
      inject: (context) =>
        busLostAndBack(lockDrop.kind, context, async () => {
          const client = admin();
          try {
            return (await client.del(`${prefix}relay`)) === 1 ? undefined : "no relay lock to delete";
          } finally {
            client.disconnect();
          }
        }),
    };
    const busKill: Fault = {
      kind: "bus connections killed",
      inject: (context) =>
        busLostAndBack(busKill.kind, context, async () => {
          const n = await killClients(/id=(\d+) [^\n]*name=pgcachewatch-(?:bus|relay) /g);
          return n > 0 ? undefined : "no bus connection found";
        }),
    };
    if (!this.#options.bus) return redis.private ? [tierKill, restart] : [tierKill];
    return [relayKill, tierKill, lockDrop, busKill, ...(redis.private ? [restart] : [])];
  }

  /** The tiers' counters; the other processes report theirs once closed. */
  stats(): { checked: RedisTierStats; bus: BusSource["counts"] | undefined; others: InstanceReport[] } {
    return { checked: this.primaryTier.stats(), bus: this.primaryBus?.counts, others: this.#reports };
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
        this.#reports.push(JSON.parse(line) as InstanceReport);
      } catch {
        this.#reports.push("no report");
      }
    }
    this.#others.length = 0;
    await this.primaryTier.close();
  }
}

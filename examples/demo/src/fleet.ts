import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CacheWatchStats } from "@pgcachewatch/core";
import { redisForTests, type TestRedis } from "@pgcachewatch/testdb";
import type { FleetReply, FleetRequest, ReadSource } from "./fleet-protocol.js";
import { bold, cyan, dim, green, ms, red, yellow } from "./output.js";
import type { StepContext, StepResult, TourStep } from "./tour.js";

const INSTANCES = 3;
const SQL = "SELECT id, name, email FROM users WHERE id = 3";
const WRITE = "UPDATE users SET email = 'ewd@cs.utexas.edu' WHERE id = 3";
const isFresh = (rows: unknown) => (rows as { email?: string }[])[0]?.email === "ewd@cs.utexas.edu";
const show = (rows: unknown) => `email: ${JSON.stringify((rows as { email?: string }[])[0]?.email)}`;
const TIMEOUT_MS = 15_000;

class FleetFailure extends Error {}

/** One app process of the step, driven over IPC (see fleet-instance.ts). */
class Instance {
  readonly #child: ChildProcess;
  readonly #waiting: ((reply: FleetReply) => void)[] = [];
  readonly #dropped: (() => void)[] = [];
  readonly ready: Promise<number>;

  constructor(env: Record<string, string>) {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const tsx = pathToFileURL(createRequire(`${root}package.json`).resolve("tsx")).href;
    const script = fileURLToPath(new URL("./fleet-instance.ts", import.meta.url));
    this.#child = spawn(process.execPath, ["--conditions=@pgcachewatch/source", "--import", tsx, script], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = new Promise((resolve, reject) => {
      // Starting is slow on a loaded machine (each process compiles its TypeScript): not a failure.
      const timer = setTimeout(() => reject(new FleetFailure("an instance did not start in 60 s")), 60_000);
      this.#child.once("exit", (code) => reject(new FleetFailure(`an instance exited with code ${code}`)));
      this.#child.on("message", (reply: FleetReply) => {
        if (reply.kind === "ready") {
          clearTimeout(timer);
          resolve(reply.pid);
        } else if (reply.kind === "dropped") for (const f of this.#dropped.splice(0)) f();
        else this.#waiting.shift()?.(reply);
      });
    });
    this.ready.catch(() => {});
  }

  #ask(request: FleetRequest): Promise<FleetReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new FleetFailure(`no answer to ${request.op} in 15 s`)),
        TIMEOUT_MS,
      );
      this.#waiting.push((reply) => {
        clearTimeout(timer);
        if (reply.kind === "error") reject(new FleetFailure(reply.message));
        else resolve(reply);
      });
      this.#child.send(request);
    });
  }

  async read(): Promise<{ rows: Record<string, unknown>[]; source: ReadSource; ms: number }> {
    const reply = await this.#ask({ op: "read" });
    if (reply.kind !== "read") throw new FleetFailure(`unexpected reply ${reply.kind}`);
    return reply;
  }

  async stats(): Promise<Extract<FleetReply, { kind: "stats" }>> {
    const reply = await this.#ask({ op: "stats" });
    if (reply.kind !== "stats") throw new FleetFailure(`unexpected reply ${reply.kind}`);
    return reply;
  }

  /** Resolves with the time its entry was dropped by a change event (as the message arrived here). */
  nextDrop(): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new FleetFailure("no invalidation within 15 s of the COMMIT")),
        TIMEOUT_MS,
      );
      this.#dropped.push(() => {
        clearTimeout(timer);
        resolve(performance.now());
      });
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    if (this.#child.connected) this.#child.send({ op: "stop" } satisfies FleetRequest);
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function sourceLabel(source: ReadSource): string {
  const text = source.padEnd(10);
  return source === "PostgreSQL" ? text : green(text);
}

/** Three app processes on one Redis: a fill in one is a hit in another; an external write drops it in all. */
async function runFleet({ databaseUrl, writer, write }: StepContext): Promise<StepResult> {
  const base: StepResult = { id: FLEET_STEP.id, title: FLEET_STEP.title, status: "ok" };
  let redis: TestRedis | undefined;
  try {
    // REDIS_URL, else a private redis-server on a free port (throws under PGCW_REQUIRE_REDIS=1).
    redis = await redisForTests();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    write(`   ${red("FAILED:")} ${reason}`);
    return { ...base, status: "failed", reason };
  }
  if (redis === undefined) {
    const reason = "no Redis: set REDIS_URL or install redis-server (PGCW_REQUIRE_REDIS=1 makes this fail)";
    write(`   ${yellow(bold("SKIPPED:"))} ${yellow(reason)}`);
    return { ...base, status: "unavailable", reason };
  }
  const prefix = `{pgcw-demo-${randomBytes(3).toString("hex")}}:`;
  const instances: Instance[] = [];
  try {
    const started = performance.now();
    for (let n = 0; n < INSTANCES; n++) {
      instances.push(
        new Instance({
          DATABASE_URL: databaseUrl,
          REDIS_URL: redis.url,
          PREFIX: prefix,
          SQL,
          TABLE: "users",
        }),
      );
    }
    const pids = await Promise.all(instances.map((i) => i.ready));
    write(
      dim(
        `   ${INSTANCES} processes (pids ${pids.join(", ")}), each with its own LISTEN and memory, ` +
          `one Redis (${redis.private ? "a private redis-server" : "REDIS_URL"} ${new URL(redis.url).host}); ` +
          `started in ${ms(performance.now() - started)}`,
      ),
    );
    write(`   ${bold(SQL)}`);
    const reads: { n: number; source: ReadSource; ms: number }[] = [];
    const readOn = async (n: number, note: string) => {
      const read = await instances[n - 1]!.read();
      reads.push({ n, source: read.source, ms: read.ms });
      write(
        `   instance ${n}  ${sourceLabel(read.source)} ${ms(read.ms).padStart(9)}${note ? `   ${dim(note)}` : ""}`,
      );
      return read;
    };
    const first = await readOn(1, "missed in memory and in Redis: loaded, filled both");
    if (first.source !== "PostgreSQL") throw new FleetFailure(`the first read came from ${first.source}`);
    write(`               ${show(first.rows)}`);
    for (const n of [2, 3]) {
      const read = await readOn(n, "filled by instance 1: no query here");
      if (read.source !== "Redis")
        throw new FleetFailure(`instance ${n}'s first read came from ${read.source}`);
    }

    write(`   another service, on its own connection:`);
    write(`     ${cyan(`${WRITE}; COMMIT`)}`);
    const drops = instances.map((i) => i.nextDrop());
    await writer.query("BEGIN");
    await writer.query(WRITE);
    const commitSentAt = performance.now();
    await writer.query("COMMIT");
    const dropTimes = (await Promise.all(drops)).map((at) => at - commitSentAt);
    write(
      `   ${yellow("drop ")}  ${dropTimes.map((t, i) => `instance ${i + 1} ${ms(t)}`).join(", ")} after COMMIT ` +
        dim("(each one's own NOTIFY; Redis dropped it too)"),
    );
    const fresh = [];
    for (const n of [2, 3, 1]) {
      const read = await readOn(n, n === 2 ? "the first read after the write: dropped everywhere" : "");
      if (!isFresh(read.rows))
        throw new FleetFailure(`instance ${n} returned stale data: ${show(read.rows)}`);
      fresh.push(read);
    }
    if (fresh[0]?.source !== "PostgreSQL")
      throw new FleetFailure(`the read after the write came from ${fresh[0]?.source}`);
    write(`               ${green(show(fresh[0].rows))}`);

    const stats = await Promise.all(instances.map((i) => i.stats()));
    const queries = stats.reduce((sum, s) => sum + s.engine.loads, 0);
    const memoryMisses = stats.reduce((sum, s) => sum + s.engine.misses, 0);
    const redisHits = stats.reduce((sum, s) => sum + s.tier.hits, 0);
    write(
      `   ${bold(`${queries} PostgreSQL queries`)} for ${memoryMisses} reads that missed in memory on ${INSTANCES} ` +
        `instances: Redis answered ${redisHits} ` +
        dim(
          `(fills ${stats.map((s) => s.tier.fills).join("/")}, Redis hits ${stats.map((s) => s.tier.hits).join("/")})`,
        ),
    );
    const redisMs = reads.filter((r) => r.source === "Redis").map((r) => r.ms);
    return {
      ...base,
      missMs: reads[0]!.ms,
      ...(redisMs.length > 0 ? { hitMs: median(redisMs) } : {}),
      invalidatedAfterMs: Math.max(...dropTimes),
      freshMs: reads[INSTANCES]!.ms,
      stats: sumStats(stats.map((s) => s.engine)),
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    write(`   ${red("FAILED:")} ${reason}`);
    return { ...base, status: "failed", reason };
  } finally {
    await Promise.allSettled(instances.map((i) => i.stop()));
    await redis.stop();
  }
}

function sumStats(all: readonly CacheWatchStats[]): CacheWatchStats {
  const sum = { ...all[0]! } as Record<string, unknown>;
  for (const s of all.slice(1)) {
    for (const [k, v] of Object.entries(s)) if (typeof v === "number") sum[k] = (sum[k] as number) + v;
  }
  return sum as unknown as CacheWatchStats;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The tour's multi-instance step: it runs its own processes instead of one example app. */
export const FLEET_STEP: TourStep = {
  id: "fleet",
  title: "Three app processes, one Redis: @pgcachewatch/redis (shared second tier)",
  example: "packages/redis (examples/demo/src/fleet.ts)",
  run: runFleet,
  async start() {
    throw new Error("the fleet step runs its own processes");
  },
  path: SQL,
  warmupPath: SQL,
  show,
  write: WRITE,
  isFresh,
};

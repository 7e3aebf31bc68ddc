import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort } from "./embedded-server.js";

/** A Redis for tests: REDIS_URL, or a private `redis-server` this process started. */
export interface TestRedis {
  readonly url: string;
  /** True for a private server: it may be killed and restarted by the test. */
  readonly private: boolean;
  /** Kill the private server (SIGKILL: no save, no goodbye). */
  kill(): Promise<void>;
  /** Start the private server again on the same port (empty: a new run id). */
  restart(): Promise<void>;
  /** Stop it for good and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

const required = () => process.env.PGCW_REQUIRE_REDIS === "1";

function hasRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

/** The reason tests are skipped, said loudly; under PGCW_REQUIRE_REDIS=1 a failure instead. */
function unavailable(reason: string): undefined {
  if (required()) throw new Error(`PGCW_REQUIRE_REDIS=1 but ${reason}`);
  console.warn(`\n*** Redis tests SKIPPED: ${reason} (set REDIS_URL or install redis-server) ***\n`);
  return undefined;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.write("PING\r\n");
    });
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Start a private `redis-server` on a free port with its own directory and no persistence.
 * Undefined (with a loud reason) when the binary is missing; throws under PGCW_REQUIRE_REDIS=1.
 */
export async function startPrivateRedis(): Promise<TestRedis | undefined> {
  if (!hasRedisServer()) return unavailable("no redis-server binary on PATH");
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), "pgcw-redis-"));
  let child: ChildProcess | undefined;
  let stopped = false;
  const killNow = () => child?.kill("SIGKILL");
  process.once("exit", killNow);

  const launch = async () => {
    const started = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: "ignore" },
    );
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await answers(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with code ${started.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once("exit", r));
    running.kill("SIGKILL");
    await exited;
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    private: true,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await kill();
      process.off("exit", killNow);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** REDIS_URL when set (shared: never killed), else a private server (see startPrivateRedis). */
export async function redisForTests(): Promise<TestRedis | undefined> {
  const url = process.env.REDIS_URL;
  if (url === undefined || url === "") return startPrivateRedis();
  const notPrivate = async () => {
    throw new Error("REDIS_URL is a shared server: it is not killed by tests");
  };
  return { url, private: false, kill: notPrivate, restart: notPrivate, stop: async () => {} };
}

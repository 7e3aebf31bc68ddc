import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { until } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type pg from "pg";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createCacheWatch, EngineStoppedError } from "../src/index.js";
import { cleanEnv } from "./support/cli-process.js";

const db = useTestDatabase("fault_shutdown");
const child = fileURLToPath(new URL("./support/fault-child.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

function runChild(args: readonly string[], timeoutMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }>(
    (resolve) => {
      const proc = spawn(
        process.execPath,
        ["--import", "tsx", "--conditions=@pgcachewatch/source", child, ...args],
        {
          cwd: repoRoot,
          env: cleanEnv(),
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      proc.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
      });
      proc.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        proc.kill("SIGKILL");
      }, timeoutMs);
      proc.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, timedOut });
      });
    },
  );
}

async function listeners(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgcachewatch-%'",
  );
  return rows[0]?.n ?? 0;
}

describe("shutdown races", () => {
  let admin: pg.Client;
  beforeAll(async () => {
    admin = await db.externalWriter();
    await admin.query("CREATE TABLE items (id int PRIMARY KEY)");
  });

  it("stop() during start() (in ensureTriggers): no listener afterwards, the process exits by itself", async () => {
    const result = await runChild(["stop-during-start", db.url, "items"], 15_000);
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("stopped; start rejected EngineStoppedError; state stopped");
    expect(await listeners(admin)).toBe(0);
  });

  it("stop() during start(), in process: no listener connects after it", async () => {
    const watch = createCacheWatch({
      connectionString: db.url,
      ensureTriggers: ["items"],
      reconnectDelay: { initial: 50, max: 100 },
    });
    const started = watch.start().catch((error: unknown) => error);
    await new Promise((resolve) => setImmediate(resolve));
    await watch.stop();
    expect(await started).toBeInstanceOf(EngineStoppedError);
    // Give a listener that should not exist the time to connect (and reconnect).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await listeners(admin)).toBe(0);
    expect(watch.state).toBe("stopped");
  });

  it("a loader that never settles: stop() returns after stopTimeout, and its waiters get EngineStoppedError", async () => {
    const watch = createCacheWatch({ source: "none", stopTimeout: 200 });
    await watch.start();
    let aborted = false;
    const waiting = watch
      .load({ key: "forever", tables: ["items"] }, (signal) => {
        signal.addEventListener("abort", () => {
          aborted = true;
        });
        return new Promise(() => {});
      })
      .catch((error: unknown) => error);
    const joined = watch
      .load({ key: "forever", tables: ["items"] }, async () => 1)
      .catch((error: unknown) => error);
    const outcome = await Promise.race([
      watch.stop().then(() => "stopped"),
      new Promise((resolve) => setTimeout(() => resolve("stop() still waiting after 5 s"), 5000)),
    ]);
    expect(outcome).toBe("stopped");
    expect(await waiting).toBeInstanceOf(EngineStoppedError);
    expect(await joined).toBeInstanceOf(EngineStoppedError);
    expect(aborted).toBe(true);
  });

  it("loads that finish within stopTimeout are waited for", async () => {
    const watch = createCacheWatch({ source: "none", stopTimeout: 5000 });
    onTestFinished(() => watch.stop());
    await watch.start();
    const value = watch.load(
      { key: "soon", tables: ["items"] },
      () => new Promise((r) => setTimeout(() => r(7), 100)),
    );
    await watch.stop();
    await expect(value).resolves.toBe(7);
    await until(() => watch.state === "stopped");
  });
});

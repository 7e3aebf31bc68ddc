import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  createCacheWatch,
  InvalidConnectionStringError,
  NotifySource,
  redactConnectionString,
  toClientConfig,
  WalSource,
} from "../src/index.js";
import { cleanEnv, runCli } from "./support/cli-process.js";

const db = useTestDatabase("fault_connstr");
const child = fileURLToPath(new URL("./support/fault-child.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Run a fault scenario in its own node process; resolves with its exit code and output. */
export function runChild(
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
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
  });
}

/** The test database as libpq key=value text. */
function keyValueOf(url: string): string {
  const u = new URL(url);
  const quote = (v: string) => `'${v.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  return [
    `host=${u.hostname}`,
    `port=${u.port || 5432}`,
    `dbname=${quote(decodeURIComponent(u.pathname.slice(1)))}`,
    `user=${quote(decodeURIComponent(u.username))}`,
    ...(u.password ? [`password=${quote(decodeURIComponent(u.password))}`] : []),
  ].join(" ");
}

describe("malformed connection strings", () => {
  it("a bad port: start() rejects with InvalidConnectionStringError, no crash, no password", async () => {
    const result = await runChild(["bad-connection-string", "postgres://u:s3cretpw@127.0.0.1:notaport/db"]);
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/TypeError|Uncaught|s3cretpw/);
    const outcome = JSON.parse(result.stdout.trim()) as { rejected: boolean; code: string; message: string };
    expect(outcome).toMatchObject({ rejected: true, code: "INVALID_CONNECTION_STRING" });
    expect(outcome.message).not.toContain("s3cretpw");
    expect(outcome.message).toContain("postgres://u:*****@127.0.0.1:notaport/db");
  });

  it("the same with ensureTriggers, and in process: a typed rejection", async () => {
    const watch = createCacheWatch({
      connectionString: "postgres://u:s3cretpw@127.0.0.1:notaport/db",
      ensureTriggers: ["items"],
    });
    onTestFinished(() => watch.stop());
    const error = await watch.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidConnectionStringError);
    expect((error as Error).message).not.toContain("s3cretpw");
  });

  it("the WAL source: start() rejects with InvalidConnectionStringError", async () => {
    const wal = new WalSource({
      connectionString: "postgres://u:s3cretpw@127.0.0.1:notaport/db",
      tables: ["t"],
    });
    const handlers = { onReady() {}, onLost() {}, onChange() {}, onMalformed() {}, onError() {} };
    const error = await wal.start(handlers).then(
      () => undefined,
      (e: unknown) => e,
    );
    await wal.stop();
    expect(error).toBeInstanceOf(InvalidConnectionStringError);
    expect((error as Error).message).not.toContain("s3cretpw");
  });

  it.each([
    ["host=127.0.0.1 bogus=1 password=s3cretpw", /unsupported key "bogus"/],
    ["host=127.0.0.1 port=99999 password=s3cretpw", /port "99999" is not a port number/],
    ["host=127.0.0.1 password='s3cretpw", /unterminated quoted value/],
    ["mysql://u:s3cretpw@h/db", /scheme "mysql"/],
    ["just some words s3cretpw", /expected key=value/],
  ])("refuses %s with a clear error and no password", (text, why) => {
    let thrown: unknown;
    try {
      toClientConfig(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidConnectionStringError);
    expect((thrown as Error).message).toMatch(why);
    expect((thrown as Error).message).not.toContain("s3cretpw");
  });
});

describe("secrets in connection strings", () => {
  it.each([
    ["postgres://app:s3cretpw@db:5432/x", "postgres://app:*****@db:5432/x"],
    ["postgresql://app:s3c:ret@pw@db/x?sslmode=require", "postgresql://app:*****@db/x?sslmode=require"],
    ["postgres://db/x?user=app&password=s3cretpw", "postgres://db/x?user=app&password=*****"],
    ["host=db password=s3cretpw dbname=x", "host=db password=***** dbname=x"],
    ["host=db password = 's3cret pw\\' x' dbname=x", "host=db password = ***** dbname=x"],
  ])("redacts %s", (text, redacted) => {
    expect(redactConnectionString(text)).toBe(redacted);
  });

  it("key=value strings connect (the listener, with a real server)", async () => {
    const watch = createCacheWatch({ connectionString: keyValueOf(db.url) });
    onTestFinished(() => watch.stop());
    await watch.start();
    expect(watch.isServing()).toBe(true);
    const config = toClientConfig(keyValueOf(db.url));
    const client = new pg.Client(config);
    await client.connect();
    const { rows } = await client.query<{ db: string }>("SELECT current_database() AS db");
    await client.end();
    expect(rows[0]?.db).toBe(db.name);
  });

  it("util.inspect() of the sources shows no connection string", () => {
    const url = "postgres://app:s3cretpw@db.internal:5432/x";
    const notify = new NotifySource({ connectionString: url, channel: "pgcachewatch" });
    const wal = new WalSource({ connectionString: url, tables: ["t"] });
    for (const source of [notify, wal]) {
      const text = inspect(source, { depth: 10, showHidden: true });
      expect(text).not.toContain("s3cretpw");
      expect(text).not.toContain("db.internal");
    }
  });

  it("the CLI parses key=value text (no lookup of a host named 'base') and never prints the password", async () => {
    const result = await runCli(
      ["status", "--url", "host=127.0.0.1 port=1 dbname=x user=app password=s3cretpw"],
      {
        env: cleanEnv(),
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("s3cretpw");
    expect(result.stderr).not.toContain("base");
    expect(result.stderr).toContain("app@127.0.0.1:1/x");
    const verbose = await runCli(
      ["status", "--verbose", "--url", "postgres://app:s3cretpw@127.0.0.1:notaport/x"],
      { env: cleanEnv() },
    );
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toContain("invalid connection string");
    expect(verbose.stderr).not.toContain("s3cretpw");
    const refused = await runCli(
      ["status", "--verbose", "--url", "host=127.0.0.1 port=1 dbname=x user=app password=s3cretpw"],
      { env: cleanEnv() },
    );
    expect(refused.stderr).toContain("caused by");
    expect(refused.stderr).not.toContain("s3cretpw");
  });
});

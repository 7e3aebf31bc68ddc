import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type CacheWatch, createCacheWatch, InvalidTableNameError, type TableRef } from "@pgcachewatch/core";
import {
  ensureTriggers,
  installTriggers,
  triggerSql,
  triggerStatus,
  uninstallTriggerSql,
  uninstallTriggers,
} from "@pgcachewatch/core/triggers";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { qualified } from "../src/workload-schema.js";
import { nextEvent, until } from "./support.js";

vi.setConfig({ testTimeout: 180_000 });

const db = useTestDatabase("chaos_hostile_names");
const ODD_SCHEMA = 'Odd "Schema".x; --';

/** Valid PostgreSQL names that try to break out of every place a name goes: SQL, format(), comments, terminals. */
const HOSTILE: readonly TableRef[] = [
  { schema: "public", table: `x"; DROP TABLE sentinel; --` },
  { schema: "public", table: "it's" },
  { schema: "public", table: "back\\slash" },
  { schema: "public", table: "$pgcw$ $$" },
  { schema: "public", table: "%s %I %L %% {}" },
  { schema: "public", table: "*/ DROP TABLE sentinel; /*" },
  { schema: "public", table: "line\nbreak -- DROP TABLE sentinel" },
  { schema: "public", table: "carriage\rreturn" },
  { schema: "public", table: "\u001b[2J\u001b]0;pwned\u0007" },
  { schema: "public", table: `${"\u00e9".repeat(31)}x` },
  { schema: "public", table: " " },
  { schema: "public", table: "pgcachewatch" },
  { schema: ODD_SCHEMA, table: "." },
  { schema: ODD_SCHEMA, table: '"' },
  { schema: ODD_SCHEMA, table: "Users" },
];

/** Names that cannot exist: every entry point must refuse them with a typed error, before any SQL. */
const IMPOSSIBLE: readonly TableRef[] = [
  { schema: "public", table: "" },
  { schema: "", table: "users" },
  { schema: "public", table: "nul\u0000byte" },
  { schema: "public", table: "t".repeat(64) },
  { schema: "public", table: "\u00e9".repeat(32) },
];

let admin: pg.Client;
let writer: pg.Client;
let pool: pg.Pool;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  writer = await db.externalWriter();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await admin.query(`CREATE TABLE sentinel (id int); INSERT INTO sentinel VALUES (1)`);
  await admin.query(`CREATE SCHEMA ${quoteIdent(ODD_SCHEMA)}`);
  for (const ref of HOSTILE)
    await admin.query(`CREATE TABLE ${qualified(ref)} (id int, v int NOT NULL DEFAULT 0)`);
  for (const ref of HOSTILE) await admin.query(`INSERT INTO ${qualified(ref)} VALUES (1, 0)`);
});

afterAll(async () => {
  await pool?.end();
  await admin?.end();
});

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function sentinelIntact(): Promise<void> {
  expect((await admin.query("SELECT count(*)::int AS n FROM sentinel")).rows[0]).toEqual({ n: 1 });
}

async function watchedTables(): Promise<string[]> {
  const status = await triggerStatus(admin);
  return status.tables.map((t) => `${t.schema}.${t.table}`).sort();
}

const keyOf = (ref: TableRef) => `${ref.schema}.${ref.table}`;

/** Every hostile table is cached, written by an external client, and its entry dropped by the change event. */
async function expectInvalidatedByExternalWrites(watch: CacheWatch): Promise<void> {
  for (const ref of HOSTILE) {
    let loads = 0;
    const read = () =>
      watch.load({ key: `hostile:${keyOf(ref)}`, tables: [ref] }, async () => {
        loads++;
        return (await pool.query(`SELECT v FROM ${qualified(ref)} WHERE id = 1`)).rows[0] as { v: number };
      });
    const before = await read();
    await read();
    expect(loads).toBe(1);
    const invalidated = nextEvent(watch, "invalidate", (info) => info.tables.includes(keyOf(ref)));
    await writer.query(`UPDATE ${qualified(ref)} SET v = v + 1`);
    await invalidated;
    expect(await read()).toEqual({ v: before.v + 1 });
    expect(loads).toBe(2);
  }
}

describe("hostile table names through the trigger installer API", () => {
  it("installTriggers / ensureTriggers / uninstallTriggers take every hostile name as data, and the engine hears writes to each", async () => {
    const result = await installTriggers(admin, { tables: HOSTILE });
    expect(result.triggersChanged).toBe(HOSTILE.length);
    expect(await watchedTables()).toEqual(HOSTILE.map(keyOf).sort());
    const ensured = await ensureTriggers(admin, { tables: HOSTILE });
    expect(ensured.installed).toEqual([]);

    const watch = createCacheWatch({ connectionString: db.url });
    onTestFinished(() => watch.stop());
    await watch.start();
    await expectInvalidatedByExternalWrites(watch);
    expect(watch.stats().malformedEvents).toBe(0);

    const removed = await uninstallTriggers(admin, { tables: HOSTILE });
    expect(removed.triggersRemoved).toBe(HOSTILE.length);
    expect(await watchedTables()).toEqual([]);
    await sentinelIntact();
  });

  it("the migration text from triggerSql / uninstallTriggerSql installs and removes exactly those tables", async () => {
    for (const drizzleBreakpoints of [false, true]) {
      const install = triggerSql({ tables: HOSTILE, channel: "it's\n-- \u001b odd", drizzleBreakpoints });
      // Comments stay comments: no line of the header starts anything but a comment.
      const header = install.split("\n").filter((line) => !line.startsWith("--"))[0];
      expect(header).toMatch(/^(DO|CREATE|COMMENT|SELECT)\b/);
      await admin.query(install.replaceAll("--> statement-breakpoint", ""));
      expect(await watchedTables()).toEqual(HOSTILE.map(keyOf).sort());
      await admin.query(uninstallTriggerSql({ tables: HOSTILE }).replaceAll("--> statement-breakpoint", ""));
      expect(await watchedTables()).toEqual([]);
      await sentinelIntact();
    }
  });

  it("names that cannot exist are InvalidTableNameError at every installer entry point, before any SQL", async () => {
    const before = await admin.query("SELECT count(*)::int AS n FROM pg_catalog.pg_trigger");
    for (const ref of IMPOSSIBLE) {
      await expect(installTriggers(admin, { tables: [ref] })).rejects.toBeInstanceOf(InvalidTableNameError);
      await expect(ensureTriggers(admin, { tables: [ref] })).rejects.toBeInstanceOf(InvalidTableNameError);
      await expect(uninstallTriggers(admin, { tables: [ref] })).rejects.toBeInstanceOf(InvalidTableNameError);
      expect(() => triggerSql({ tables: [ref] })).toThrow(InvalidTableNameError);
      expect(() => uninstallTriggerSql({ tables: [ref] })).toThrow(InvalidTableNameError);
    }
    expect((await admin.query("SELECT count(*)::int AS n FROM pg_catalog.pg_trigger")).rows[0]).toEqual(
      before.rows[0],
    );
  });
});

const cliMain = fileURLToPath(new URL("../../../packages/core/src/cli/main.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunningCli {
  stdout(): string;
  stderr(): string;
  interrupt(): void;
  exited: Promise<CliRun>;
}

function startCli(args: readonly string[]): RunningCli {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key !== "DATABASE_URL" && !key.startsWith("PG")) env[key] = value;
  }
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=@pgcachewatch/source", cliMain, ...args, "--url", db.url],
    { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<CliRun>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { stdout: () => stdout, stderr: () => stderr, interrupt: () => child.kill("SIGINT"), exited };
}

const cli = (args: readonly string[]) => startCli(args).exited;

/** How a name is typed on the command line: each part in double quotes, quotes doubled. */
const typed = (ref: TableRef) => `${quoteIdent(ref.schema)}.${quoteIdent(ref.table)}`;

/** Control characters that would reach the terminal raw (the line feed ending each line is fine). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point of the check
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/;

/** Run `pgcachewatch watch`, make the changes once it listens, and return its lines once `last` was printed. */
async function watchLines(args: readonly string[], change: () => Promise<void>): Promise<string[]> {
  const running = startCli(["watch", ...args]);
  try {
    await until(() => /listening on channel/.test(running.stderr()), 60_000, "watch to listen");
    await change();
    await writer.query("SELECT pg_notify('pgcachewatch', $1)", [
      JSON.stringify({ v: 1, s: "public", t: "last", op: "update" }),
    ]);
    await until(() => /last/.test(running.stdout()), 30_000, "the last event");
  } finally {
    running.interrupt();
  }
  const { stdout } = await running.exited;
  return stdout.split("\n").filter((line) => line.length > 0);
}

describe("hostile table names through the pgcachewatch CLI", () => {
  it("install, status, sql and uninstall take each name as data; what they print carries no raw control characters", async () => {
    const names = HOSTILE.map(typed);
    const install = await cli(["install", ...names]);
    expect(install.stderr).toBe("");
    expect(install.code).toBe(0);
    expect(await watchedTables()).toEqual(HOSTILE.map(keyOf).sort());

    const status = await cli(["status", "--json"]);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as { tables: TableRef[] };
    expect(parsed.tables.map(keyOf).sort()).toEqual(HOSTILE.map(keyOf).sort());
    const statusText = await cli(["status"]);
    expect(statusText.code).toBe(0);

    const sql = await cli(["sql", ...names]);
    expect(sql.code).toBe(0);
    const uninstall = await cli(["uninstall", ...names]);
    expect(uninstall.code).toBe(0);
    expect(await watchedTables()).toEqual([]);
    // The migration the CLI printed installs them again, as data.
    await admin.query(sql.stdout);
    expect(await watchedTables()).toEqual(HOSTILE.map(keyOf).sort());
    await uninstallTriggers(admin, { all: true });
    await sentinelIntact();

    for (const run of [install, statusText, uninstall]) expect(run.stdout).not.toMatch(RAW_CONTROL);
  });

  it("watch reports each hostile table's change, and passes no control characters to the terminal", async () => {
    await installTriggers(admin, { tables: HOSTILE });
    onTestFinished(async () => {
      await uninstallTriggers(admin, { all: true });
    });
    const changeAll = async () => {
      for (const ref of HOSTILE) await writer.query(`UPDATE ${qualified(ref)} SET v = v + 1`);
      // A forged event from any client on the channel, named to attack a terminal.
      await writer.query("SELECT pg_notify('pgcachewatch', $1)", [
        JSON.stringify({ v: 1, s: "public", t: "\u001b]0;forged\u0007", op: "update" }),
      ]);
    };
    const json = await watchLines(["--json"], changeAll);
    const events = json.map((line) => JSON.parse(line) as TableRef);
    expect(events.slice(0, HOSTILE.length).map(keyOf)).toEqual(HOSTILE.map(keyOf));
    expect(events).toHaveLength(HOSTILE.length + 2);
    for (const line of json) expect(line).not.toMatch(RAW_CONTROL);

    const text = await watchLines([], changeAll);
    expect(text).toHaveLength(HOSTILE.length + 2);
    for (const line of text) expect(line).not.toMatch(RAW_CONTROL);
    await sentinelIntact();
  });
});

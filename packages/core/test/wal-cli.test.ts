import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli as runCliInProcess } from "../src/cli/run-cli.js";
import { cleanEnv, runCli } from "./support/cli-process.js";
import { announceWalAvailability, checkWalAvailability, type WalAvailability } from "./wal-support.js";

const db = useTestDatabase("wal_cli");
let wal: WalAvailability = { ok: false, reason: "not checked" };

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-cli.test.ts");
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE users (id int PRIMARY KEY);
    CREATE SCHEMA sales;
    CREATE TABLE sales."Order.Lines" (id int PRIMARY KEY);
    CREATE TABLE keyless (v int);
  `);
});

/** The CLI in this process (each spawned binary costs a second or more on a busy machine). */
async function runInProcess(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCliInProcess(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: cleanEnv(),
    interrupted: new Promise<void>(() => {}),
  });
  return { code, stdout, stderr };
}

const cli = (args: string[]) => runInProcess([...args, "--url", db.url]);

describe("pgcachewatch wal", () => {
  it("has help, and refuses bad usage with exit code 2", async () => {
    // One run of the real binary; the rest in process.
    const main = await runCli(["--help"]);
    expect(main.stdout).toContain("  wal setup|status|drop ");
    const help = await runInProcess(["wal", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pgcachewatch wal setup <table\.\.\.>/);
    for (const [args, pattern] of [
      [["wal"], /name a subcommand: setup, status or drop/],
      [["wal", "frob"], /unknown wal subcommand "frob"/],
      [["wal", "setup"], /name at least one table \(or use --all-tables\)/],
      [["wal", "setup", "users", "--all-tables"], /give no table names/],
      [["wal", "status", "users"], /takes no table names/],
      [["wal", "drop", "--all-tables"], /applies to wal setup only/],
    ] as const) {
      const result = await runInProcess([...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(pattern);
    }
  });

  it("sets up, reports and drops the publication (and a permanent slot where the server allows)", async () => {
    const setup = await cli(["wal", "setup", "users", 'sales."Order.Lines"', "--publication", "cli_pub"]);
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stdout).toContain("publication cli_pub: 2 tables (created)");
    expect(setup.stdout).toContain('sales."Order.Lines"');
    if (!wal.ok) expect(setup.stderr).toMatch(/warning: .*wal_level|warning: .*REPLICATION/);
    const again = await cli(["wal", "setup", "users", "--publication", "cli_pub"]);
    expect(again.stdout).toContain("already in place, nothing changed");

    const status = await cli(["wal", "status", "--publication", "cli_pub"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/publication: +cli_pub, 2 tables \(insert, update, delete, truncate\)/);
    expect(status.stdout).toMatch(wal.ok ? /ready: +yes/ : /ready: +no\n {2}- .*How to fix/s);
    const json = JSON.parse((await cli(["wal", "status", "--publication", "cli_pub", "--json"])).stdout);
    expect(json.publication.tables).toEqual([
      { schema: "public", table: "users" },
      { schema: "sales", table: "Order.Lines" },
    ]);

    if (wal.ok) {
      const slot = await cli(["wal", "setup", "users", "--publication", "cli_pub", "--slot", "cli_slot"]);
      expect(slot.stdout).toContain("slot cli_slot: created");
      expect((await cli(["wal", "status"])).stdout).toMatch(/cli_slot +permanent +no/);
    }
    const drop = await cli([
      "wal",
      "drop",
      "--publication",
      "cli_pub",
      ...(wal.ok ? ["--slot", "cli_slot"] : []),
    ]);
    expect(drop.code, drop.stderr).toBe(0);
    expect(drop.stdout).toContain("publication cli_pub: dropped");
    if (wal.ok) expect(drop.stdout).toContain("slot cli_slot: dropped");
    expect((await cli(["wal", "drop", "--publication", "cli_pub"])).stdout).toContain("did not exist");
  });

  it("fails with the fix when a table has no replica identity", async () => {
    const result = await cli(["wal", "setup", "keyless"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("public.keyless");
    expect(result.stderr).toContain("REPLICA IDENTITY FULL");
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { INSTALL_REVISION, uninstallTriggers } from "../src/triggers/index.js";
import { builtCliExists, cleanEnv, runCli, startCli } from "./support/cli-process.js";
import { catalogSnapshot, installedTriggers } from "./support/notifications.js";

const db = useTestDatabase("cli");

// Each test starts several node processes; on a loaded machine that takes a while.
vi.setConfig({ testTimeout: 120_000 });

let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text);
    CREATE TABLE "x""; drop table users; --" (id int);
    CREATE SCHEMA sales;
    CREATE TABLE sales.orders (id int, at int NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE sales.orders_2025 PARTITION OF sales.orders FOR VALUES FROM (2025) TO (2026);
    CREATE TABLE sales."Refunds" (id int);`);
});

afterAll(async () => {
  await admin.end();
});

beforeEach(async () => {
  await uninstallTriggers(admin, { all: true });
});

const STACK_LINE = /^\s+at /m;

describe("pgcachewatch --help and usage errors", () => {
  it("prints the overview with --help, and each command's help", async () => {
    const main = await runCli(["--help"]);
    expect(main.code).toBe(0);
    for (const command of ["install", "uninstall", "status", "sql", "watch"]) {
      expect(main.stdout).toContain(`  ${command} `);
    }
    expect(main.stdout).toContain("Exit codes: 0 success, 1 error, 2 usage error.");

    const install = await runCli(["install", "--help"]);
    expect(install.code).toBe(0);
    expect(install.stdout).toMatch(/^Usage: pgcachewatch install <table\.\.\.> \[options\]/);
    expect((await runCli(["help", "watch"])).stdout).toMatch(/^Usage: pgcachewatch watch/);
    expect((await runCli(["status", "-h"])).stdout).toMatch(/^Usage: pgcachewatch status/);
  });

  it.each([
    [[], 2, /Usage: pgcachewatch <command>/],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
    [["install"], 2, /name at least one table \(or use --all-tables\)/],
    [["install", "users", "--all-tables"], 2, /give table names or --all-tables, not both/],
    [["install", "users", "--bogus"], 2, /Unknown option '--bogus'/],
    [["uninstall"], 2, /name at least one table \(or use --all\)/],
    [["sql", "a.b.c"], 2, /has more than two parts/],
    [["sql", '"unterminated'], 2, /unterminated quote/],
    [["sql", "users", "--channel", ""], 2, /invalid channel "": empty name/],
    [["sql", "x".repeat(64)], 2, /longer than 63 bytes/],
  ])("pgcachewatch %j exits %i", async (args, code, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe("");
    if (code === 2 && args.length > 0)
      expect(result.stderr).toMatch(/Run 'pgcachewatch .*--help' for usage\./);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it("says it cannot connect, without a stack trace unless --verbose", async () => {
    const url = "postgres://postgres@127.0.0.1:1/nowhere";
    const quiet = await runCli(["status", "--url", url]);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toContain(
      "pgcachewatch: cannot connect to postgres@127.0.0.1:1/nowhere: connection refused",
    );
    expect(quiet.stderr).not.toMatch(STACK_LINE);
    const verbose = await runCli(["status", "--url", url, "--verbose"]);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(STACK_LINE);
  });
});

describe("install, status, uninstall through the binary", () => {
  it("round-trips and leaves the catalog as it found it", async () => {
    const before = await catalogSnapshot(admin);
    const install = await runCli(["install", "users", "sales.orders", "--url", db.url]);
    expect(install.stderr).toBe("");
    expect(install.code).toBe(0);
    expect(install.stdout).toBe(
      "watching 2 tables on channel pgcachewatch (3 triggers created or replaced)\n  public.users\n  sales.orders\n",
    );
    expect(await installedTriggers(admin)).toEqual([
      "public.users pgcachewatch",
      "sales.orders pgcachewatch",
      "sales.orders_2025 pgcachewatch",
    ]);
    const again = await runCli(["install", "users", "sales.orders", "--url", db.url]);
    expect(again.stdout).toContain("(already in place, nothing changed)");

    const status = await runCli(["status", "--url", db.url]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(
      `triggers:      installed in schema pgcachewatch (revision ${INSTALL_REVISION})`,
    );
    expect(status.stdout).toMatch(/NOTIFY queue: {2}\d+\.\d\d% used/);
    expect(status.stdout).toMatch(/public\.users\s+table\s+pgcachewatch/);
    expect(status.stdout).toMatch(/sales\.orders_2025\s+partition of sales\.orders\s+pgcachewatch/);

    const uninstall = await runCli(["uninstall", "--all", "--url", db.url]);
    expect(uninstall.code).toBe(0);
    expect(uninstall.stdout).toBe(
      "removed 3 triggers\nremoved the trigger functions and schema pgcachewatch\n",
    );
    expect(await catalogSnapshot(admin)).toEqual(before);
    const after = await runCli(["status", "--url", db.url]);
    expect(after.stdout).toContain("triggers:      not installed");
  });

  it("connects with DATABASE_URL, else the PG* variables", async () => {
    const viaDatabaseUrl = await runCli(["install", "users"], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(viaDatabaseUrl.code).toBe(0);
    const url = new URL(db.url);
    const pgEnv = cleanEnv({
      PGHOST: url.hostname,
      PGPORT: url.port || "5432",
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: url.pathname.slice(1),
    });
    const viaPgVariables = await runCli(["status", "--json"], { env: pgEnv });
    expect(viaPgVariables.code).toBe(0);
    const status = JSON.parse(viaPgVariables.stdout) as { tables: { schema: string; table: string }[] };
    expect(status.tables.map((t) => `${t.schema}.${t.table}`)).toEqual(["public.users"]);
  });

  it("refuses an unknown table and changes nothing", async () => {
    const before = await catalogSnapshot(admin);
    const result = await runCli(["install", "users", "Users2", "--url", db.url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("pgcachewatch: unknown table: public.Users2\n");
    expect(await catalogSnapshot(admin)).toEqual(before);
  });

  it("says permission denied when the role may not put triggers on a table", async () => {
    const role = `pgcw_cli_${Date.now()}`;
    const password = `pw_${Date.now()}`;
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      // Let it create the schema, so what it lacks is ownership of the table.
      await admin.query(`GRANT CREATE ON DATABASE "${db.name}" TO ${role}`);
      const url = new URL(db.url);
      url.username = role;
      url.password = password;
      const before = await catalogSnapshot(admin);
      const result = await runCli(["install", "users", "--url", url.toString()]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^pgcachewatch: permission denied: (permission denied for table|must be owner of (table|relation)) users /,
      );
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(await catalogSnapshot(admin)).toEqual(before);
    } finally {
      await admin.query(`REVOKE CREATE ON DATABASE "${db.name}" FROM ${role}; DROP ROLE ${role}`);
    }
  });

  it("handles a hostile name that is a real table, quoting it in what it prints", async () => {
    const install = await runCli(["install", 'x"; drop table users; --', "--url", db.url]);
    expect(install.code).toBe(0);
    expect(install.stdout).toContain('  public."x""; drop table users; --"\n');
    expect(await installedTriggers(admin)).toEqual(['public.x"; drop table users; -- pgcachewatch']);
    // What status prints can be pasted back.
    const uninstall = await runCli(["uninstall", 'public."x""; drop table users; --"', "--url", db.url]);
    expect(uninstall.stdout).toBe("removed 1 trigger\n");
    expect((await admin.query("SELECT count(*)::int AS n FROM users")).rows[0]).toEqual({ n: 0 });
  });

  it("installs every table of a schema, case preserved, with --schema and --all-tables", async () => {
    const result = await runCli([
      "install",
      "--schema",
      "sales",
      "--all-tables",
      "--channel",
      "sales",
      "--url",
      db.url,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('  sales."Refunds"\n  sales.orders\n');
    expect(await installedTriggers(admin)).toEqual([
      "sales.Refunds sales",
      "sales.orders sales",
      "sales.orders_2025 sales",
    ]);
    const status = await runCli(["status", "--channel", "other", "--url", db.url]);
    expect(status.stdout).toContain("watched:       0 tables on channel other");
  });

  it("shows partitions created after install until install runs again", async () => {
    await runCli(["install", "sales.orders", "--url", db.url]);
    await admin.query(
      "CREATE TABLE sales.orders_2026 PARTITION OF sales.orders FOR VALUES FROM (2026) TO (2027)",
    );
    try {
      const status = await runCli(["status", "--url", db.url]);
      expect(status.stdout).toContain(
        "  sales.orders_2026 (partition of sales.orders): pgcachewatch install sales.orders --channel pgcachewatch",
      );
      await runCli(["install", "sales.orders", "--url", db.url]);
      expect((await runCli(["status", "--url", db.url])).stdout).not.toContain("without a trigger");
    } finally {
      await admin.query("DROP TABLE sales.orders_2026");
    }
  });

  it("follows new partitions with --follow-partitions", async () => {
    const install = await runCli(["install", "sales.orders", "--follow-partitions", "--url", db.url]);
    expect(install.code).toBe(0);
    expect(install.stdout).toContain("partitions created or attached later get the trigger automatically\n");
    await admin.query(
      "CREATE TABLE sales.orders_2027 PARTITION OF sales.orders FOR VALUES FROM (2027) TO (2028)",
    );
    try {
      const status = await runCli(["status", "--url", db.url]);
      expect(status.stdout).toContain(
        "partitions:    new partitions get the trigger automatically (event trigger)",
      );
      expect(status.stdout).toMatch(/sales\.orders_2027\s+partition of sales\.orders\s+pgcachewatch/);
      expect(status.stdout).not.toContain("without a trigger");
    } finally {
      await admin.query("DROP TABLE sales.orders_2027");
    }
  });
});

describe("pgcachewatch sql", () => {
  it("prints a migration that installs the same triggers, and a down migration", async () => {
    const up = await runCli(["sql", "users", 'sales."Refunds"', "--channel", "app"]);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(
      "SELECT pgcachewatch.watch_table(E'sales', E'Refunds', E'app', NULL::text[], NULL::integer);",
    );
    await admin.query(up.stdout);
    expect(await installedTriggers(admin)).toEqual(["public.users app", "sales.Refunds app"]);
    const down = await runCli(["sql", "--uninstall", "--all"]);
    expect(down.code).toBe(0);
    await admin.query(down.stdout);
    expect(await installedTriggers(admin)).toEqual([]);
  });

  it("lists the tables with --all-tables (that needs a connection)", async () => {
    const result = await runCli(["sql", "--schema", "sales", "--all-tables", "--drizzle", "--url", db.url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "--> statement-breakpoint\nSELECT pgcachewatch.watch_table(E'sales', E'orders',",
    );
    expect(result.stdout).toContain("SELECT pgcachewatch.watch_table(E'sales', E'Refunds',");
  });
});

describe("pgcachewatch watch", () => {
  it("prints a line for a change made by another client, and exits cleanly on Ctrl-C", async () => {
    await runCli(["install", "users", "sales.orders", "--url", db.url]);
    const watch = startCli(["watch", "--url", db.url]);
    try {
      await watch.waitFor("stderr", /listening on channel pgcachewatch at .+ \(Ctrl-C to stop\)\n/);
      const writer = await db.externalWriter();
      await writer.query("INSERT INTO users VALUES (1, 'ada')");
      await writer.query("INSERT INTO sales.orders_2025 VALUES (1, 2025)");
      await writer.query("SELECT pg_notify('pgcachewatch', 'not json')");
      const line = await watch.waitFor(
        "stdout",
        /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) {2}public\.users {2}insert {4}(-?\d+) ms$/m,
      );
      expect(new Date(line[1] as string).getTime()).not.toBeNaN();
      await watch.waitFor("stdout", /sales\.orders_2025 {2}insert/);
      await watch.waitFor("stdout", /sales\.orders {2}insert/);
      await watch.waitFor("stderr", /ignored a malformed payload \(payload is not JSON\): "not json"/);
      watch.child.kill("SIGINT");
      const result = await watch.exited;
      expect(result.code).toBe(0);
      expect(result.stderr).not.toMatch(STACK_LINE);
    } finally {
      watch.child.kill("SIGKILL");
    }
  });

  it("prints JSON lines with --json on another channel", async () => {
    await runCli(["install", "users", "--channel", "json channel", "--url", db.url]);
    const watch = startCli(["watch", "--json", "--channel", "json channel", "--url", db.url]);
    try {
      await watch.waitFor("stderr", /listening on channel json channel/);
      const writer = await db.externalWriter();
      await writer.query("DELETE FROM users");
      const [line] = await watch.waitFor("stdout", /^\{.*\}$/m);
      expect(JSON.parse(line)).toMatchObject({ schema: "public", table: "users", operation: "delete" });
      watch.child.kill("SIGTERM");
      expect((await watch.exited).code).toBe(0);
    } finally {
      watch.child.kill("SIGKILL");
    }
  });
});

describe.runIf(builtCliExists)("the built binary (dist/cli.js)", () => {
  it("runs and behaves like the source", async () => {
    const built = await runCli(["--help"], { built: true });
    expect(built.code).toBe(0);
    expect(built.stdout).toBe((await runCli(["--help"])).stdout);
    const status = await runCli(["status", "--url", db.url], { built: true });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("triggers:");
  });
});

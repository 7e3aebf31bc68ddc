import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run-cli.js";
import { type ChangeEvent, createCacheWatch } from "../src/index.js";
import { createWalSource, walSetup, walStatus } from "../src/sources/wal/index.js";
import { cleanEnv } from "./support/cli-process.js";
import { announceWalAvailability, checkWalAvailability, type WalAvailability } from "./wal-support.js";

const db = useTestDatabase("wal_identity");
let wal: WalAvailability = { ok: false, reason: "not checked" };

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-replica-identity.test.ts");
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL, status text NOT NULL);
    CREATE SCHEMA "Odd ""Schema""";
    CREATE TABLE "Odd ""Schema"""."Mixed.Case" (id int PRIMARY KEY, tag text);
    CREATE TABLE events (id int NOT NULL, day date NOT NULL, kind text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
    CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    INSERT INTO posts VALUES (1, 10, 'draft'), (2, 20, 'draft');
  `);
});

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli([...args, "--url", db.url], {
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

async function identities(): Promise<Record<string, string>> {
  const reader = await db.externalWriter();
  const { rows } = await reader.query<{ name: string; identity: string }>(
    `SELECT c.oid::regclass::text AS name, c.relreplident::text AS identity FROM pg_class c
      WHERE c.oid IN ('posts'::regclass, '"Odd ""Schema"""."Mixed.Case"'::regclass, 'events'::regclass, 'events_2026'::regclass)`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.identity]));
}

describe("wal setup --replica-identity full (works without logical replication)", () => {
  it("refuses other values and other subcommands with exit code 2", async () => {
    for (const [args, pattern] of [
      [["wal", "setup", "posts", "--replica-identity", "index"], /--replica-identity takes "full"/],
      [["wal", "status", "--replica-identity", "full"], /applies to wal setup only/],
    ] as const) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(pattern);
    }
  });

  it("status shows each published table's identity; setup sets FULL on tables and partitions, once", async () => {
    const setup = await cli(["wal", "setup", "posts", "--publication", "ri_pub"]);
    expect(setup.code, setup.stderr).toBe(0);
    const before = await cli(["wal", "status", "--publication", "ri_pub"]);
    expect(before.stdout).toMatch(/replica identity .*\n +TABLE +IDENTITY\n +public\.posts +DEFAULT/);
    expect(before.stdout).toContain("1 table without FULL");

    const full = await cli([
      "wal",
      "setup",
      "posts",
      '"Odd ""Schema"""."Mixed.Case"',
      "events",
      "--publication",
      "ri_pub",
      "--replica-identity",
      "full",
    ]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toContain("replica identity FULL: set on 4 tables");
    expect(await identities()).toEqual({
      posts: "f",
      '"Odd ""Schema"""."Mixed.Case"': "f",
      events: "f",
      events_2026: "f",
    });
    const again = await cli([
      "wal",
      "setup",
      "posts",
      "--publication",
      "ri_pub",
      "--replica-identity",
      "full",
    ]);
    expect(again.stdout).toContain("replica identity FULL: already on every published table");

    const status = await walStatus({ connectionString: db.url, publication: "ri_pub" });
    expect(status.replicaIdentities).toEqual([
      { schema: 'Odd "Schema"', table: "Mixed.Case", identity: "full" },
      { schema: "public", table: "events", identity: "full" },
      {
        schema: "public",
        table: "events_2026",
        identity: "full",
        partitionOf: { schema: "public", table: "events" },
      },
      { schema: "public", table: "posts", identity: "full" },
    ]);
    const text = await cli(["wal", "status", "--publication", "ri_pub"]);
    expect(text.stdout).toMatch(/public\.events_2026 \(partition of public\.events\) +FULL/);
    expect(text.stdout).not.toContain("without FULL");
  });
});

/** The events one committed statement produces, once they arrived. */
async function eventsOf(watch: ReturnType<typeof createCacheWatch>, sql: string): Promise<ChangeEvent[]> {
  const events: ChangeEvent[] = [];
  const onChange = (event: ChangeEvent) => events.push(event);
  watch.on("change", onChange);
  const writer = await db.externalWriter();
  await writer.query(sql);
  const deadline = Date.now() + 5000;
  while (events.length === 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 100));
  watch.off("change", onChange);
  return events;
}

describe("with REPLICA IDENTITY FULL the WAL source sends old values of non-key columns", () => {
  it("an UPDATE of a non-key column carries its old and new values, not only the key", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const writer = await db.externalWriter();
    await writer.query("CREATE TABLE notes (id int PRIMARY KEY, status text NOT NULL)");
    await writer.query("INSERT INTO notes VALUES (1, 'draft')");
    await walSetup({ connectionString: db.url, publication: "ri_notes", tables: ["notes"] });
    const source = createWalSource({
      connectionString: db.url,
      tables: ["notes"],
      publication: "ri_notes",
      heartbeatInterval: 500,
      visibilityDelay: 0,
    });
    const watch = createCacheWatch({ connectionString: db.url, source });
    stops.push(() => watch.stop());
    await watch.start();
    // Default identity: the old status is not sent, so the event knows only the key's values.
    const [plain] = await eventsOf(watch, "UPDATE notes SET status = 'live' WHERE id = 1");
    expect(plain?.columns).toEqual({ id: ["1"] });

    const result = await walSetup({
      connectionString: db.url,
      publication: "ri_notes",
      tables: ["notes"],
      replicaIdentityFull: true,
    });
    expect(result.replicaIdentityChanged).toEqual([{ schema: "public", table: "notes" }]);
    const [full] = await eventsOf(watch, "UPDATE notes SET status = 'gone' WHERE id = 1");
    expect(full?.columns?.id).toEqual(["1"]);
    expect([...(full?.columns?.status ?? [])].sort()).toEqual(["gone", "live"]);
  });
});

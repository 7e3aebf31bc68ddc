import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run-cli.js";
import { type ChangeEvent, createCacheWatch } from "../src/index.js";
import { createWalSource, walSetup } from "../src/sources/wal/index.js";
import { cleanEnv } from "./support/cli-process.js";
import { announceWalAvailability, checkWalAvailability, type WalAvailability } from "./wal-support.js";

const db = useTestDatabase("wal_collists");
let wal: WalAvailability = { ok: false, reason: "not checked" };

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-column-lists.test.ts");
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE authors (id int PRIMARY KEY);
    CREATE TABLE "Doc Items" (id int PRIMARY KEY, author_id int REFERENCES authors, "Status" text NOT NULL, body text NOT NULL);
    CREATE TABLE audited (id int PRIMARY KEY, note text);
    ALTER TABLE audited REPLICA IDENTITY FULL;
    INSERT INTO authors VALUES (1), (2);
    INSERT INTO "Doc Items" VALUES (1, 1, 'draft', repeat('x', 2048)), (2, 2, 'draft', repeat('y', 2048));
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

async function publishedColumns(publication: string): Promise<Record<string, string[]>> {
  const reader = await db.externalWriter();
  const { rows } = await reader.query<{ name: string; columns: string[] }>(
    "SELECT tablename::text AS name, attnames::text[] AS columns FROM pg_publication_tables WHERE pubname = $1",
    [publication],
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.columns]));
}

describe("wal setup --columns: a publication column list of the key columns and the named ones", () => {
  it("publishes primary key, foreign keys and the named columns, and changes nothing when run again", async () => {
    const setup = await cli([
      "wal",
      "setup",
      '"Doc Items"',
      "--publication",
      "cl_pub",
      "--columns",
      "Status",
    ]);
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stdout).toContain("column lists: set on 1 table");
    expect(await publishedColumns("cl_pub")).toEqual({ "Doc Items": ["id", "author_id", "Status"] });
    const again = await cli([
      "wal",
      "setup",
      '"Doc Items"',
      "--publication",
      "cl_pub",
      "--columns",
      "Status",
    ]);
    expect(again.stdout).toContain("column lists: already in place");
    // An UPDATE of the table still works (the list covers the replica identity).
    const writer = await db.externalWriter();
    await writer.query(`UPDATE "Doc Items" SET body = repeat('z', 2048) WHERE id = 1`);
  });

  it("refuses a table with REPLICA IDENTITY FULL, an unknown column and --replica-identity, changing nothing", async () => {
    await expect(
      walSetup({ connectionString: db.url, publication: "cl_full", tables: ["audited"], columns: [] }),
    ).rejects.toMatchObject({ code: "COLUMN_LIST_WITH_FULL_IDENTITY" });
    await expect(
      walSetup({
        connectionString: db.url,
        publication: "cl_unknown",
        tables: [{ schema: "public", table: "Doc Items" }],
        columns: ["nope"],
      }),
    ).rejects.toMatchObject({ code: "UNKNOWN_PUBLICATION_COLUMN" });
    expect(await publishedColumns("cl_full")).toEqual({});
    expect(await publishedColumns("cl_unknown")).toEqual({});
    const both = await cli(["wal", "setup", "audited", "--columns", "note", "--replica-identity", "full"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/do not go together/);
    const all = await cli(["wal", "setup", "--all-tables", "--columns", "note"]);
    expect(all.code).toBe(2);
  });

  it("through the WAL source an event carries no values for a column left out (so its entries are dropped)", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    await walSetup({
      connectionString: db.url,
      publication: "cl_wal",
      tables: [{ schema: "public", table: "Doc Items" }],
      columns: ["Status"],
    });
    const source = createWalSource({
      connectionString: db.url,
      tables: [{ schema: "public", table: "Doc Items" }],
      publication: "cl_wal",
      heartbeatInterval: 500,
      visibilityDelay: 0,
    });
    const watch = createCacheWatch({ connectionString: db.url, source });
    stops.push(() => watch.stop());
    await watch.start();
    const events: ChangeEvent[] = [];
    watch.on("change", (event) => events.push(event));
    const writer = await db.externalWriter();
    await writer.query(`INSERT INTO "Doc Items" VALUES (3, 2, 'live', repeat('b', 2048))`);
    const deadline = Date.now() + 5000;
    while (events.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events[0]?.columns).toEqual({ id: ["3"], author_id: ["2"], Status: ["live"] });
  });
});

import { readFile } from "node:fs/promises";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatStatus } from "../src/cli/commands/status.js";
import { parseNotifyPayload } from "../src/events/notify-payload.js";
import { openEnvelope } from "../src/events/signed-payload.js";
import { UnknownColumnError } from "../src/triggers/errors.js";
import {
  DEFAULT_CHANNEL,
  ensureTriggers,
  INSTALL_REVISION,
  installTriggers,
  triggerSql,
  triggerStatus,
  uninstallTriggers,
} from "../src/triggers/index.js";
import { runCli } from "./support/cli-process.js";
import { type NotificationRecorder, recordNotifications } from "./support/notifications.js";

const db = useTestDatabase("triggers_v2");

let admin: pg.Client;
let writer: pg.Client;
let recorder: NotificationRecorder;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  writer = await db.externalWriter();
  recorder = await recordNotifications(db.url, DEFAULT_CHANNEL);
});

afterAll(async () => {
  await recorder.close();
  await admin.end();
});

beforeEach(async () => {
  await uninstallTriggers(admin, { all: true });
});

afterEach(async () => {
  await recorder.drain(writer);
});

interface Seen {
  readonly table: string;
  readonly op: string;
  /** Key values per column, sorted; absent: table-wide. */
  readonly keys?: Record<string, string[]>;
}

/** Every notification since the last call, parsed, in arrival order. */
async function events(): Promise<Seen[]> {
  const payloads = await recorder.drain(writer);
  return payloads.map((payload) => {
    const parsed = parseNotifyPayload(payload);
    if (!parsed.ok) throw new Error(`unparseable payload ${payload}: ${parsed.detail}`);
    const { schema, table, operation, columns } = parsed.event;
    const seen = { table: `${schema}.${table}`, op: operation };
    if (columns === undefined) return seen;
    const keys = Object.fromEntries(
      Object.entries(columns).map(([column, values]) => [column, [...values].sort()]),
    );
    return { ...seen, keys };
  });
}

function byTable(seen: readonly Seen[]): Seen[] {
  return [...seen].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/** The payloads themselves (envelope removed), for checks of the wire format. */
async function rawPayloads(): Promise<string[]> {
  return (await recorder.drain(writer)).map((raw) => {
    const envelope = openEnvelope(raw);
    if (envelope.signed === "broken") throw new Error(`broken envelope ${raw}`);
    return envelope.payload;
  });
}

describe("revision 3: the values of the key columns, per operation", () => {
  beforeEach(async () => {
    await admin.query(`
      DROP TABLE IF EXISTS orders, customers;
      CREATE TABLE customers (id int PRIMARY KEY, name text);
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, status text, note text);
      INSERT INTO customers VALUES (1, 'a'), (2, 'b'), (3, 'c');`);
    await installTriggers(admin, { tables: ["customers", "orders"] });
  });

  it("sends payload v2 with the primary key and foreign-key values of inserted rows", async () => {
    await writer.query(
      "INSERT INTO orders VALUES (1, 1, 'draft', 'x'), (2, 2, 'draft', 'y'), (3, 2, 'paid', 'z')",
    );
    const [payload] = await rawPayloads();
    expect(JSON.parse(payload ?? "")).toMatchObject({
      v: 2,
      s: "public",
      t: "orders",
      op: "insert",
      k: { id: ["1", "2", "3"], customer_id: ["1", "2"] },
    });
  });

  it("sends old and new values of an update, so a key move and a foreign-key move name both sides", async () => {
    await writer.query("INSERT INTO orders VALUES (1, 1, 'draft', 'x'), (2, 2, 'draft', 'y')");
    await events();
    await writer.query("UPDATE orders SET note = 'changed' WHERE id = 1");
    expect(await events()).toEqual([
      { table: "public.orders", op: "update", keys: { id: ["1"], customer_id: ["1"] } },
    ]);
    await writer.query("UPDATE orders SET id = 10 WHERE id = 1");
    expect(await events()).toEqual([
      { table: "public.orders", op: "update", keys: { id: ["1", "10"], customer_id: ["1"] } },
    ]);
    await writer.query("UPDATE orders SET customer_id = 3 WHERE id = 2");
    expect(await events()).toEqual([
      { table: "public.orders", op: "update", keys: { id: ["2"], customer_id: ["2", "3"] } },
    ]);
    // Several rows in one statement: every row's values, each once.
    await writer.query("UPDATE orders SET status = 'paid'");
    expect(await events()).toEqual([
      { table: "public.orders", op: "update", keys: { id: ["10", "2"], customer_id: ["1", "3"] } },
    ]);
  });

  it("sends the old values of deleted rows, leaves NULL foreign keys out, and sends nothing for no row", async () => {
    await writer.query("INSERT INTO orders VALUES (1, 1, 'draft', 'x'), (2, NULL, 'draft', 'y')");
    expect(await events()).toEqual([
      { table: "public.orders", op: "insert", keys: { id: ["1", "2"], customer_id: ["1"] } },
    ]);
    await writer.query("DELETE FROM orders WHERE id = 2");
    expect(await events()).toEqual([
      { table: "public.orders", op: "delete", keys: { id: ["2"], customer_id: [] } },
    ]);
    await writer.query("DELETE FROM orders WHERE id = 99");
    expect(await events()).toEqual([]);
  });

  it("reports TRUNCATE table-wide", async () => {
    await writer.query("INSERT INTO orders VALUES (1, 1, 'draft', 'x')");
    await events();
    await writer.query("TRUNCATE orders");
    expect(await events()).toEqual([{ table: "public.orders", op: "truncate" }]);
  });

  it("reports a statement over the row bound table-wide, and one at the bound with its keys", async () => {
    await installTriggers(admin, { tables: ["orders"], maxRows: 3 });
    await writer.query("INSERT INTO orders SELECT i, 1, 'draft', '' FROM generate_series(1, 3) AS i");
    expect(await events()).toEqual([
      { table: "public.orders", op: "insert", keys: { id: ["1", "2", "3"], customer_id: ["1"] } },
    ]);
    await writer.query("INSERT INTO orders SELECT i, 2, 'draft', '' FROM generate_series(4, 7) AS i");
    expect(await events()).toEqual([{ table: "public.orders", op: "insert" }]);
    await writer.query("UPDATE orders SET note = 'n' WHERE id <= 3");
    expect((await events())[0]?.keys).toBeDefined();
    await writer.query("UPDATE orders SET note = 'm' WHERE id <= 4");
    expect(await events()).toEqual([{ table: "public.orders", op: "update" }]);
    await writer.query("DELETE FROM orders");
    expect(await events()).toEqual([{ table: "public.orders", op: "delete" }]);
  });

  it("sends the keys of a statement of more rows than the JSON path takes (17 to the bound)", async () => {
    await writer.query(
      "INSERT INTO orders SELECT i, 1 + i % 3, 'draft', '' FROM generate_series(1, 40) AS i",
    );
    const [inserted] = await events();
    expect(inserted?.keys?.id).toHaveLength(40);
    expect(inserted?.keys?.customer_id).toEqual(["1", "2", "3"]);
    await writer.query("UPDATE orders SET id = id + 100 WHERE id <= 20");
    const [updated] = await events();
    expect(updated?.keys?.id).toHaveLength(40);
    expect(updated?.keys?.id).toContain("1");
    expect(updated?.keys?.id).toContain("120");
  });

  it("sends PostgreSQL's text output of key columns whose JSON would differ (timestamp)", async () => {
    await admin.query("ALTER TABLE orders ADD COLUMN placed timestamp");
    await installTriggers(admin, { tables: ["orders"], keys: ["placed"] });
    await writer.query("INSERT INTO orders (id, customer_id, placed) VALUES (1, 1, '2026-01-02 03:04:05')");
    expect(await events()).toEqual([
      {
        table: "public.orders",
        op: "insert",
        keys: { id: ["1"], customer_id: ["1"], placed: ["2026-01-02 03:04:05"] },
      },
    ]);
  });

  it("takes the JSON path only where every column is small (no text, bytea or jsonb besides the keys)", async () => {
    await admin.query(`
      DROP TABLE IF EXISTS narrow, wide;
      CREATE TABLE narrow (id bigint PRIMARY KEY, code varchar(40), n int, at timestamptz);
      CREATE TABLE wide (id int PRIMARY KEY, body text);`);
    await installTriggers(admin, { tables: ["narrow", "wide"] });
    const { rows } = await admin.query<{ table: string; bound: string }>(`
      SELECT c.relname AS table, split_part(pg_get_triggerdef(t.oid), ', ', 2) AS bound
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE t.tgname = 'pgcachewatch_notify_insert' AND c.relname IN ('narrow', 'wide') ORDER BY 1`);
    expect(rows).toEqual([
      { table: "narrow", bound: "'1000j'" },
      { table: "wide", bound: "'1000'" },
    ]);
    await writer.query("INSERT INTO narrow VALUES (9000000000, 'x', 1, now())");
    await writer.query("INSERT INTO wide VALUES (1, repeat('b', 100000))");
    expect(await events()).toEqual([
      { table: "public.narrow", op: "insert", keys: { id: ["9000000000"] } },
      { table: "public.wide", op: "insert", keys: { id: ["1"] } },
    ]);
  });

  it("reports values that would not fit in a notification table-wide", async () => {
    await installTriggers(admin, { tables: ["orders"], keys: ["note"] });
    const long = "n".repeat(2000);
    await writer.query("INSERT INTO orders VALUES (1, 1, 'draft', $1 || '1'), (2, 1, 'draft', $1 || '2')", [
      long,
    ]);
    expect((await events())[0]?.keys?.note).toHaveLength(2);
    await writer.query("INSERT INTO orders SELECT i, 1, 'draft', $1 || i FROM generate_series(3, 6) AS i", [
      long,
    ]);
    expect(await events()).toEqual([{ table: "public.orders", op: "insert" }]);
  });

  it("sends the statements of one transaction separately, in order", async () => {
    await writer.query("BEGIN");
    await writer.query("INSERT INTO orders VALUES (1, 1, 'draft', 'x')");
    await writer.query("UPDATE orders SET customer_id = 2 WHERE id = 1");
    await writer.query("DELETE FROM customers WHERE id = 3");
    await writer.query("COMMIT");
    expect(await events()).toEqual([
      { table: "public.orders", op: "insert", keys: { id: ["1"], customer_id: ["1"] } },
      { table: "public.orders", op: "update", keys: { id: ["1"], customer_id: ["1", "2"] } },
      { table: "public.customers", op: "delete", keys: { id: ["3"] } },
    ]);
  });

  it("reports both halves of an upsert, the rows a cascade deletes, and MERGE", async () => {
    await admin.query(`
      DROP TABLE IF EXISTS kids, parents;
      CREATE TABLE parents (id int PRIMARY KEY);
      CREATE TABLE kids (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE CASCADE, n int);
      INSERT INTO parents VALUES (1), (2);
      INSERT INTO kids VALUES (10, 1, 0), (11, 2, 0);`);
    await installTriggers(admin, { tables: ["parents", "kids"] });
    await writer.query(
      "INSERT INTO kids VALUES (10, 2, 1), (12, 1, 1) ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id",
    );
    expect(byTable(await events()).map((seen) => [seen.op, seen.keys])).toEqual(
      expect.arrayContaining([
        ["update", { id: ["10"], parent_id: ["1", "2"] }],
        ["insert", { id: ["12"], parent_id: ["1"] }],
      ]),
    );
    await writer.query("DELETE FROM parents WHERE id = 1");
    expect(byTable(await events())).toEqual([
      { table: "public.kids", op: "delete", keys: { id: ["12"], parent_id: ["1"] } },
      { table: "public.parents", op: "delete", keys: { id: ["1"] } },
    ]);
    const { rows } = await admin.query<{ server_version_num: string }>("SHOW server_version_num");
    if (Number(rows[0]?.server_version_num) >= 150000) {
      await writer.query(
        "MERGE INTO kids k USING (VALUES (11, 5)) AS v(id, n) ON k.id = v.id WHEN MATCHED THEN UPDATE SET n = v.n",
      );
      expect(await events()).toEqual([
        { table: "public.kids", op: "update", keys: { id: ["11"], parent_id: ["2"] } },
      ]);
    }
  });

  it("fires for a writer role that has no privileges on schema pgcachewatch", async () => {
    const role = `pgcw_v2_writer_${Date.now()}`;
    await admin.query(
      `CREATE ROLE ${role}; GRANT INSERT, UPDATE, SELECT ON orders TO ${role}; GRANT SELECT ON customers TO ${role}`,
    );
    try {
      await writer.query(`SET ROLE ${role}`);
      await writer.query("INSERT INTO orders VALUES (5, 3, 'draft', 'x')");
      await writer.query("RESET ROLE");
      expect(await events()).toEqual([
        { table: "public.orders", op: "insert", keys: { id: ["5"], customer_id: ["3"] } },
      ]);
    } finally {
      await writer.query("RESET ROLE");
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it("never fails a write when a key column was dropped since install: the event turns table-wide", async () => {
    await installTriggers(admin, { tables: ["orders"], keys: ["status"] });
    await admin.query("ALTER TABLE orders DROP COLUMN status");
    await writer.query("INSERT INTO orders VALUES (1, 1, 'x')");
    expect(await events()).toEqual([{ table: "public.orders", op: "insert" }]);
    // install again: the keys follow the table
    await installTriggers(admin, { tables: ["orders"], keys: [] });
    await writer.query("INSERT INTO orders VALUES (2, 1, 'y')");
    expect(await events()).toEqual([
      { table: "public.orders", op: "insert", keys: { id: ["2"], customer_id: ["1"] } },
    ]);
  });
});

describe("keys chosen by the user", () => {
  beforeEach(async () => {
    await admin.query(`
      DROP TABLE IF EXISTS tickets;
      CREATE TABLE tickets (id uuid PRIMARY KEY, status text, owner_id int, body text);`);
  });

  it("adds --keys columns, keeps them on a plain reinstall, and drops them with keys: []", async () => {
    await installTriggers(admin, { tables: ["tickets"], keys: ["status", "owner_id"], maxRows: 50 });
    const id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    await writer.query("INSERT INTO tickets VALUES ($1, 'open', 7, 'text')", [id]);
    expect(await events()).toEqual([
      { table: "public.tickets", op: "insert", keys: { id: [id], status: ["open"], owner_id: ["7"] } },
    ]);
    const again = await installTriggers(admin, { tables: ["tickets"] });
    expect(again.triggersChanged).toBe(0);
    const ensured = await ensureTriggers(admin, { tables: ["tickets"] });
    expect(ensured.installed).toEqual([]);
    expect((await triggerStatus(admin)).tables[0]).toMatchObject({
      keyColumns: ["id", "status", "owner_id"],
      maxRows: 50,
    });
    await installTriggers(admin, { tables: ["tickets"], keys: [] });
    await writer.query("UPDATE tickets SET status = 'closed'");
    expect(await events()).toEqual([{ table: "public.tickets", op: "update", keys: { id: [id] } }]);
    // ensureTriggers with keys puts them back
    const withKeys = await ensureTriggers(admin, { tables: ["tickets"], keys: ["status"] });
    expect(withKeys.installed.map((ref) => ref.table)).toEqual(["tickets"]);
    expect((await triggerStatus(admin)).tables[0]?.keyColumns).toEqual(["id", "status"]);
  });

  it("sends values that only a nondeterministic collation calls equal, each of them", async () => {
    await admin.query(`
      CREATE COLLATION IF NOT EXISTS pgcw_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
      DROP TABLE IF EXISTS labels;
      CREATE TABLE labels (id int PRIMARY KEY, label text COLLATE pgcw_ci);`);
    await installTriggers(admin, { tables: ["labels"], keys: ["label"] });
    await writer.query("INSERT INTO labels VALUES (1, 'Alpha'), (2, 'alpha'), (3, 'ALPHA')");
    expect(await events()).toEqual([
      {
        table: "public.labels",
        op: "insert",
        keys: { id: ["1", "2", "3"], label: ["ALPHA", "Alpha", "alpha"] },
      },
    ]);
  });

  it("refuses a column that does not exist, changing nothing", async () => {
    await installTriggers(admin, { tables: ["tickets"] });
    await expect(
      installTriggers(admin, { tables: ["tickets"], keys: ["status", "no_such_column"] }),
    ).rejects.toThrow(UnknownColumnError);
    expect((await triggerStatus(admin)).tables[0]?.keyColumns).toEqual(["id"]);
  });

  it("puts the keys into migration text as literals that give the same triggers", async () => {
    const sql = triggerSql({ tables: ["tickets"], keys: ["status", "it's \\ odd"], maxRows: 50 });
    await admin.query(`ALTER TABLE tickets ADD COLUMN "it's \\ odd" int`);
    await admin.query(sql);
    const status = await triggerStatus(admin);
    expect(status.tables[0]).toMatchObject({ keyColumns: ["id", "status", "it's \\ odd"], maxRows: 50 });
    await writer.query(`INSERT INTO tickets (id, status, "it's \\ odd") VALUES (gen_random_uuid(), 's', 4)`);
    expect((await events())[0]?.keys?.["it's \\ odd"]).toEqual(["4"]);
  });
});

describe("the command line", () => {
  it("pgcachewatch install orders --keys status,customer_id; status shows the keys", async () => {
    await admin.query(`
      DROP TABLE IF EXISTS cli_orders;
      CREATE TABLE cli_orders (id int PRIMARY KEY, status text, customer_id int);`);
    const install = await runCli(["install", "cli_orders", "--keys", "status,customer_id", "--url", db.url]);
    expect(install.code).toBe(0);
    await writer.query("INSERT INTO cli_orders VALUES (1, 'new', 5)");
    expect(await events()).toEqual([
      {
        table: "public.cli_orders",
        op: "insert",
        keys: { id: ["1"], status: ["new"], customer_id: ["5"] },
      },
    ]);
    const status = await runCli(["status", "--url", db.url]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/public\.cli_orders\s+table\s+pgcachewatch\s+id,status,customer_id/);
    expect(status.stdout).not.toContain("still on");
    const bad = await runCli(["install", "cli_orders", "--keys", "nope", "--url", db.url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("has no column nope");
    const usage = await runCli(["install", "cli_orders", "--keys", "a,,b", "--url", db.url]);
    expect(usage.code).toBe(2);
  });
});

describe("quoted, mixed-case and non-ASCII names", () => {
  it("sends the values of columns whose names need quoting, as data", async () => {
    await admin.query(`
      DROP SCHEMA IF EXISTS "Sales Ü" CASCADE;
      CREATE SCHEMA "Sales Ü";
      CREATE TABLE "Sales Ü"."Kunden" ("KundenId" int PRIMARY KEY);
      CREATE TABLE "Sales Ü"."Bestellungen 日本" (
        "Id" int PRIMARY KEY,
        "KundenId" int REFERENCES "Sales Ü"."Kunden",
        "naïve ""quoted"" 列" text,
        "x""); drop table users; --" int);
      INSERT INTO "Sales Ü"."Kunden" VALUES (1), (2);`);
    const keys = ['naïve "quoted" 列', 'x"); drop table users; --'];
    const orders = { schema: "Sales Ü", table: "Bestellungen 日本" };
    const customers = { schema: "Sales Ü", table: "Kunden" };
    // The keys apply to every table named: Kunden has neither column.
    await expect(installTriggers(admin, { tables: [orders, customers], keys })).rejects.toThrow(
      UnknownColumnError,
    );
    await installTriggers(admin, { tables: [orders], keys });
    await installTriggers(admin, { tables: [customers] });
    await writer.query(`INSERT INTO "Sales Ü"."Bestellungen 日本" VALUES (1, 2, 'grüße', 9)`);
    await writer.query(`UPDATE "Sales Ü"."Kunden" SET "KundenId" = 3 WHERE "KundenId" = 1`);
    expect(await events()).toEqual([
      {
        table: "Sales Ü.Bestellungen 日本",
        op: "insert",
        keys: {
          Id: ["1"],
          KundenId: ["2"],
          'naïve "quoted" 列': ["grüße"],
          'x"); drop table users; --': ["9"],
        },
      },
      { table: "Sales Ü.Kunden", op: "update", keys: { KundenId: ["1", "3"] } },
    ]);
  });
});

describe("partitioned tables", () => {
  beforeEach(async () => {
    await admin.query(`
      DROP TABLE IF EXISTS measures;
      CREATE TABLE measures (id int, at int, sensor int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE measures_low PARTITION OF measures FOR VALUES FROM (0) TO (10);
      CREATE TABLE measures_high PARTITION OF measures FOR VALUES FROM (10) TO (100) PARTITION BY RANGE (at);
      CREATE TABLE measures_high_a PARTITION OF measures_high FOR VALUES FROM (10) TO (100);`);
    await installTriggers(admin, { tables: ["measures"], keys: ["sensor"] });
  });

  it("reports rows written through the parent with their keys, for the parent", async () => {
    await writer.query("INSERT INTO measures VALUES (1, 1, 7), (2, 20, 8)");
    expect(await events()).toEqual([
      {
        table: "public.measures",
        op: "insert",
        keys: { id: ["1", "2"], at: ["1", "20"], sensor: ["7", "8"] },
      },
    ]);
    // A row moved to another partition: old and new values in one event of the parent.
    await writer.query("UPDATE measures SET at = 30 WHERE id = 1");
    expect(await events()).toEqual([
      { table: "public.measures", op: "update", keys: { id: ["1"], at: ["1", "30"], sensor: ["7"] } },
    ]);
  });

  it("reports a write made directly to a partition for it and every table above it, with keys", async () => {
    await writer.query("INSERT INTO measures_high_a VALUES (3, 50, 9)");
    const keys = { id: ["3"], at: ["50"], sensor: ["9"] };
    // The partition's own event first, then the tables above it (in any order).
    const seen = await events();
    expect(seen[0]).toEqual({ table: "public.measures_high_a", op: "insert", keys });
    expect(byTable(seen)).toEqual([
      { table: "public.measures", op: "insert", keys },
      { table: "public.measures_high", op: "insert", keys },
      { table: "public.measures_high_a", op: "insert", keys },
    ]);
    await writer.query("DELETE FROM measures_low");
    expect(await events()).toEqual([]);
    await writer.query("TRUNCATE measures_high_a");
    expect(byTable(await events())).toEqual([
      { table: "public.measures", op: "truncate" },
      { table: "public.measures_high", op: "truncate" },
      { table: "public.measures_high_a", op: "truncate" },
    ]);
  });

  it("puts the parent's keys on partitions created later when following partitions", async () => {
    await installTriggers(admin, { tables: ["measures"], followNewPartitions: true });
    await admin.query("CREATE TABLE measures_neg PARTITION OF measures FOR VALUES FROM (-10) TO (0)");
    await writer.query("INSERT INTO measures_neg VALUES (4, -5, 1)");
    const keys = { id: ["4"], at: ["-5"], sensor: ["1"] };
    expect(await events()).toEqual([
      { table: "public.measures_neg", op: "insert", keys },
      { table: "public.measures", op: "insert", keys },
    ]);
    const status = await triggerStatus(admin);
    expect(status.tables.find((table) => table.table === "measures_neg")).toMatchObject({
      layout: "keyed",
      keyColumns: ["id", "at", "sensor"],
      partitionOf: { schema: "public", table: "measures" },
    });
    await uninstallTriggers(admin, { all: true });
  });
});

describe("inheritance children", () => {
  it("carry transition tables too: a write to the child is keyed, one through the parent covers the child's rows", async () => {
    await admin.query(`
      DROP TABLE IF EXISTS animals CASCADE;
      CREATE TABLE animals (id int PRIMARY KEY, name text);
      CREATE TABLE dogs (id int PRIMARY KEY, good boolean) INHERITS (animals);
      INSERT INTO animals VALUES (1, 'cat');`);
    await installTriggers(admin, { tables: ["animals", "dogs"] });
    await writer.query("INSERT INTO dogs VALUES (2, 'rex', true)");
    expect(await events()).toEqual([{ table: "public.dogs", op: "insert", keys: { id: ["2"] } }]);
    // A statement on the parent fires the parent's triggers only; its transition table has the child's rows.
    await writer.query("UPDATE animals SET name = upper(name)");
    expect(await events()).toEqual([{ table: "public.animals", op: "update", keys: { id: ["1", "2"] } }]);
  });
});

describe("upgrade from revision 1", () => {
  it("shows tables still on revision 1 with the command that upgrades them; ensureTriggers upgrades", async () => {
    await admin.query(`
      DROP TABLE IF EXISTS legacy, "Legacy Two";
      CREATE TABLE legacy (id int PRIMARY KEY, v int);
      CREATE TABLE "Legacy Two" (id int PRIMARY KEY);`);
    await admin.query(await readFile(new URL("./triggers-v2-revision-1.sql", import.meta.url), "utf8"));
    await admin.query("SELECT pgcachewatch.watch_table('public', 'legacy', 'pgcachewatch')");
    await admin.query("SELECT pgcachewatch.watch_table('public', 'Legacy Two', 'other')");
    await writer.query("INSERT INTO legacy VALUES (1, 1)");
    expect(await events()).toEqual([{ table: "public.legacy", op: "insert" }]);

    const old = await triggerStatus(admin);
    expect(old).toMatchObject({ revision: 1, current: false });
    expect(old.tables.map((table) => [table.table, table.layout, table.keyColumns])).toEqual([
      ["Legacy Two", "table-wide", null],
      ["legacy", "table-wide", null],
    ]);
    expect(old.upgrades).toEqual([
      {
        channel: "other",
        tables: [{ schema: "public", table: "Legacy Two" }],
        command: `pgcachewatch install 'public."Legacy Two"' --channel other`,
      },
      {
        channel: DEFAULT_CHANNEL,
        tables: [{ schema: "public", table: "legacy" }],
        command: "pgcachewatch install public.legacy",
      },
    ]);
    const text = formatStatus(old, undefined);
    expect(text).toContain("2 tables still on the table-wide triggers of revisions 1 and 2");
    expect(text).toContain(`  pgcachewatch install 'public."Legacy Two"' --channel other\n`);

    const ensured = await ensureTriggers(admin, { tables: ["legacy"] });
    expect(ensured).toMatchObject({
      functionsUpdated: true,
      installed: [{ schema: "public", table: "legacy" }],
    });
    await writer.query("UPDATE legacy SET v = 2 WHERE id = 1");
    expect(await events()).toEqual([{ table: "public.legacy", op: "update", keys: { id: ["1"] } }]);
    // The table left on revision 1's trigger keeps working with the new function (table-wide, v1).
    const other = await recordNotifications(db.url, "other");
    try {
      await writer.query('INSERT INTO "Legacy Two" VALUES (1)');
      const payloads = await other.drain(writer);
      expect(payloads.map((payload) => parseNotifyPayload(payload))).toMatchObject([
        { ok: true, event: { table: "Legacy Two", operation: "insert" } },
      ]);
      expect(
        JSON.parse(payloads.map((raw) => (openEnvelope(raw) as { payload: string }).payload)[0] ?? ""),
      ).toMatchObject({ v: 1 });
    } finally {
      await other.close();
    }
    const upgraded = await triggerStatus(admin);
    expect(upgraded).toMatchObject({ revision: INSTALL_REVISION, current: true });
    expect(upgraded.upgrades.map((upgrade) => upgrade.command)).toEqual([
      `pgcachewatch install 'public."Legacy Two"' --channel other`,
    ]);
    // ...and installing it as the status says finishes the upgrade.
    await installTriggers(admin, { tables: [{ schema: "public", table: "Legacy Two" }], channel: "other" });
    expect((await triggerStatus(admin)).upgrades).toEqual([]);
    expect(formatStatus(await triggerStatus(admin), undefined)).not.toContain("still on");
  });
});

describe("upgrade from revision 3", () => {
  it("status calls revision 3's function older but its tables keyed; ensureTriggers replaces the function only", async () => {
    await admin.query(`
      DROP TABLE IF EXISTS r3_items;
      CREATE TABLE r3_items (id int PRIMARY KEY, v int);`);
    await installTriggers(admin, { tables: ["r3_items"] });
    // Revision 3's function as released, under the same triggers (its arguments are the same).
    await admin.query(await readFile(new URL("./triggers-v2-revision-3.sql", import.meta.url), "utf8"));
    await writer.query("INSERT INTO r3_items VALUES (1, 1), (2, 2)");
    expect(await events()).toEqual([{ table: "public.r3_items", op: "insert", keys: { id: ["1", "2"] } }]);

    const old = await triggerStatus(admin);
    expect(old).toMatchObject({ revision: 3, current: false, upgrades: [] });
    expect(old.tables.find((table) => table.table === "r3_items")).toMatchObject({ layout: "keyed" });
    expect(formatStatus(old, undefined)).toContain(
      "revision 3, older than this version's: run install again",
    );

    const ensured = await ensureTriggers(admin, { tables: ["r3_items"] });
    expect(ensured).toMatchObject({ functionsUpdated: true, installed: [] });
    expect(await triggerStatus(admin)).toMatchObject({ revision: INSTALL_REVISION, current: true });
    await writer.query("UPDATE r3_items SET v = 3 WHERE id = 2");
    expect(await events()).toEqual([{ table: "public.r3_items", op: "update", keys: { id: ["2"] } }]);
  });
});

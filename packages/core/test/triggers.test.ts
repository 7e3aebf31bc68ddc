import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvalidTableNameError } from "../src/errors.js";
import { parseNotifyPayload } from "../src/events/notify-payload.js";
import {
  DEFAULT_CHANNEL,
  ensureTriggers,
  INSTALL_REVISION,
  InvalidChannelError,
  installTriggers,
  NotATableError,
  TriggerConflictError,
  TriggerPermissionError,
  triggerSql,
  triggerStatus,
  UnknownTableError,
  uninstallTriggerSql,
  uninstallTriggers,
} from "../src/triggers/index.js";
import {
  catalogSnapshot,
  installedTriggers,
  type NotificationRecorder,
  recordNotifications,
} from "./support/notifications.js";

const db = useTestDatabase("triggers");

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
  await recorder.drain(writer); // nothing from one test leaks into the next
});

/** Payloads as `schema.table op`, sorted, after checking each one parses. */
async function changes(): Promise<string[]> {
  const payloads = await recorder.drain(writer);
  return payloads
    .map((payload) => {
      const parsed = parseNotifyPayload(payload);
      if (!parsed.ok) throw new Error(`unparseable payload ${payload}: ${parsed.detail}`);
      expect(parsed.event.sentAt).toBeTypeOf("number");
      return `${parsed.event.schema}.${parsed.event.table} ${parsed.event.operation}`;
    })
    .sort();
}

describe("installTriggers", () => {
  it("notifies once per statement kind for inserts, updates, deletes and truncates by another client", async () => {
    await admin.query("CREATE TABLE plain (id int PRIMARY KEY, v int)");
    const result = await installTriggers(admin, { tables: ["plain"] });
    expect(result).toEqual({
      tables: [{ schema: "public", table: "plain" }],
      channel: DEFAULT_CHANNEL,
      triggersChanged: 1,
    });

    await writer.query("INSERT INTO plain VALUES (1, 1), (2, 2)");
    expect(await changes()).toEqual(["public.plain insert"]);
    await writer.query("UPDATE plain SET v = 3");
    expect(await changes()).toEqual(["public.plain update"]);
    await writer.query("DELETE FROM plain WHERE id = 1");
    expect(await changes()).toEqual(["public.plain delete"]);
    await writer.query("TRUNCATE plain");
    expect(await changes()).toEqual(["public.plain truncate"]);
    // A statement that changes no row sends nothing: its transition tables are empty.
    await writer.query("UPDATE plain SET v = 4 WHERE false");
    expect(await changes()).toEqual([]);
  });

  it("fires for a writer role that has no privileges on schema pgcachewatch", async () => {
    await admin.query("CREATE TABLE app_data (id int)");
    await installTriggers(admin, { tables: ["app_data"] });
    const role = `pgcw_writer_${Date.now()}`;
    await admin.query(`CREATE ROLE ${role}; GRANT INSERT ON app_data TO ${role}`);
    try {
      await writer.query(`SET ROLE ${role}`);
      await writer.query("INSERT INTO app_data VALUES (1)");
      await writer.query("RESET ROLE");
      expect(await changes()).toEqual(["public.app_data insert"]);
    } finally {
      await writer.query("RESET ROLE");
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it("sends nothing before COMMIT and nothing for a rolled-back transaction", async () => {
    await admin.query("CREATE TABLE txn (id int)");
    await installTriggers(admin, { tables: ["txn"] });
    await writer.query("BEGIN");
    await writer.query("INSERT INTO txn VALUES (1)");
    await writer.query("ROLLBACK");
    expect(await changes()).toEqual([]);
  });

  it("is idempotent: a second install changes nothing in the catalog", async () => {
    await admin.query("CREATE TABLE twice (id int)");
    await installTriggers(admin, { tables: ["twice"] });
    const first = await catalogSnapshot(admin);
    const again = await installTriggers(admin, { tables: ["twice", "public.twice", { table: "twice" }] });
    expect(again.triggersChanged).toBe(0);
    expect(again.tables).toEqual([{ schema: "public", table: "twice" }]);
    expect(await catalogSnapshot(admin)).toEqual(first);
  });

  it("moves a table to another channel when installed again with it", async () => {
    await admin.query("CREATE TABLE moving (id int)");
    await installTriggers(admin, { tables: ["moving"] });
    const other = await recordNotifications(db.url, "other channel");
    try {
      const result = await installTriggers(admin, { tables: ["moving"], channel: "other channel" });
      expect(result.triggersChanged).toBe(1);
      expect(await installedTriggers(admin)).toEqual(["public.moving other channel"]);
      await writer.query("INSERT INTO moving VALUES (1)");
      expect(await other.drain(writer)).toHaveLength(1);
      expect(await changes()).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it("works again after the table is dropped and recreated", async () => {
    await admin.query("CREATE TABLE phoenix (id int)");
    await installTriggers(admin, { tables: ["phoenix"] });
    await admin.query("DROP TABLE phoenix");
    expect(await installedTriggers(admin)).toEqual([]);
    await admin.query("CREATE TABLE phoenix (id int)");
    expect((await installTriggers(admin, { tables: ["phoenix"] })).triggersChanged).toBe(1);
    await writer.query("INSERT INTO phoenix VALUES (1)");
    expect(await changes()).toEqual(["public.phoenix insert"]);
  });

  it("refuses unknown tables before any DDL, naming all of them and suggesting the right case", async () => {
    await admin.query('CREATE TABLE "CamelCase" (id int)');
    await admin.query("CREATE TABLE known (id int)");
    const before = await catalogSnapshot(admin);
    const error = await installTriggers(admin, { tables: ["known", "camelcase", "nowhere.t"] }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnknownTableError);
    expect((error as UnknownTableError).code).toBe("UNKNOWN_TABLE");
    expect((error as UnknownTableError).tables).toEqual([
      { schema: "public", table: "camelcase" },
      { schema: "nowhere", table: "t" },
    ]);
    expect((error as Error).message).toContain("did you mean public.CamelCase?");
    expect(await catalogSnapshot(admin)).toEqual(before);
  });

  it("refuses views and sequences, and names that cannot exist", async () => {
    await admin.query("CREATE VIEW a_view AS SELECT 1 AS one");
    await expect(installTriggers(admin, { tables: ["a_view"] })).rejects.toThrow(NotATableError);
    await expect(installTriggers(admin, { tables: ["a_view"] })).rejects.toThrow(
      "a_view is a view, not a table",
    );
    await expect(installTriggers(admin, { tables: [""] })).rejects.toThrow(InvalidTableNameError);
    await expect(installTriggers(admin, { tables: ["x".repeat(64)] })).rejects.toThrow(InvalidTableNameError);
    await expect(installTriggers(admin, { tables: ["a_view"], channel: "" })).rejects.toThrow(
      InvalidChannelError,
    );
    await expect(installTriggers(admin, { tables: [], channel: "c".repeat(64) })).rejects.toThrow(
      InvalidChannelError,
    );
  });

  it("does not take over a user's own trigger that happens to have its name", async () => {
    await admin.query("CREATE TABLE squatted (id int)");
    await admin.query(
      "CREATE FUNCTION public.mine() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$",
    );
    await admin.query(
      "CREATE TRIGGER pgcachewatch_notify AFTER INSERT ON squatted FOR EACH STATEMENT EXECUTE FUNCTION public.mine()",
    );
    const error = await installTriggers(admin, { tables: ["squatted"] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TriggerConflictError);
    expect((error as Error).message).toContain(
      "public.squatted already has a trigger named pgcachewatch_notify",
    );
    const { rows } = await admin.query(
      "SELECT tgfoid::regprocedure::text AS fn FROM pg_trigger WHERE tgrelid = 'squatted'::regclass",
    );
    expect(rows).toEqual([{ fn: "mine()" }]);
  });

  it("lets several instances install and ensure at the same time", async () => {
    await admin.query("CREATE TABLE contended (id int); CREATE TABLE contended_2 (id int)");
    const pool = new pg.Pool({ connectionString: db.url, max: 6 });
    try {
      const tables = ["contended", "contended_2"];
      const results = await Promise.all([
        installTriggers(pool, { tables }),
        installTriggers(pool, { tables }),
        ensureTriggers(pool, { tables }),
        ensureTriggers(pool, { tables }),
        installTriggers(pool, { tables }),
        ensureTriggers(pool, { tables }),
      ]);
      expect(results).toHaveLength(6);
      expect(await installedTriggers(admin)).toEqual([
        `public.contended ${DEFAULT_CHANNEL}`,
        `public.contended_2 ${DEFAULT_CHANNEL}`,
      ]);
    } finally {
      await pool.end();
    }
  });

  it("accepts a pg.Pool", async () => {
    await admin.query("CREATE TABLE pooled (id int)");
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await installTriggers(pool, { tables: ["pooled"] });
      expect((await triggerStatus(pool)).tables.map((t) => t.table)).toEqual(["pooled"]);
    } finally {
      await pool.end();
    }
  });
});

describe("hostile and unusual names", () => {
  const names = [
    'x"; drop table users; --',
    "MixedCase",
    "naïve_日本語_таблица",
    "with.dot and space",
    "it's",
    "back\\slash",
    "$pgcw$",
  ];

  it("watches each one as data, in a non-public schema with an odd name too", async () => {
    await admin.query("CREATE TABLE users (id int)");
    await admin.query('CREATE SCHEMA "Odd Schema.x"');
    for (const name of names) {
      await admin.query(`CREATE TABLE "Odd Schema.x"."${name.replaceAll('"', '""')}" (id int)`);
    }
    const tables = names.map((table) => ({ schema: "Odd Schema.x", table }));
    const result = await installTriggers(admin, { tables });
    expect(result.triggersChanged).toBe(names.length);
    for (const name of names) {
      await writer.query(`INSERT INTO "Odd Schema.x"."${name.replaceAll('"', '""')}" VALUES (1)`);
      expect(await changes()).toEqual([`Odd Schema.x.${name} insert`]);
    }
    // The injection attempt was a name, never SQL: users is still there.
    expect((await admin.query("SELECT to_regclass('public.users') IS NOT NULL AS present")).rows[0]).toEqual({
      present: true,
    });
    await uninstallTriggers(admin, { tables });
    expect(await installedTriggers(admin)).toEqual([]);
  });

  it("refuses a hostile name that is not a table without running it", async () => {
    await admin.query("CREATE TABLE IF NOT EXISTS users (id int)");
    const error = await installTriggers(admin, { tables: ['x"; drop table users; --'] }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnknownTableError);
    expect((await admin.query("SELECT to_regclass('public.users') IS NOT NULL AS present")).rows[0]).toEqual({
      present: true,
    });
  });

  it("puts hostile names into migration text only as escaped literals that round-trip", async () => {
    await admin.query('CREATE SCHEMA IF NOT EXISTS "Odd Schema.x"');
    for (const name of names) {
      await admin.query(`CREATE TABLE IF NOT EXISTS "Odd Schema.x"."${name.replaceAll('"', '""')}" (id int)`);
    }
    const tables = names.map((table) => ({ schema: "Odd Schema.x", table }));
    await admin.query(triggerSql({ tables, channel: "it's \\ odd" }));
    expect(await installedTriggers(admin)).toEqual(
      names.map((name) => `Odd Schema.x.${name} it's \\ odd`).sort(),
    );
    await admin.query(uninstallTriggerSql({ tables }));
    expect(await installedTriggers(admin)).toEqual([]);
  });
});

describe("partitioned tables", () => {
  beforeAll(async () => {
    await admin.query(`
      CREATE SCHEMA metrics;
      CREATE TABLE metrics.readings (at int NOT NULL, kind text NOT NULL, v int) PARTITION BY RANGE (at);
      CREATE TABLE metrics.readings_0 PARTITION OF metrics.readings FOR VALUES FROM (0) TO (100) PARTITION BY LIST (kind);
      CREATE TABLE metrics.readings_0_a PARTITION OF metrics.readings_0 FOR VALUES IN ('a');
      CREATE TABLE metrics.readings_0_b PARTITION OF metrics.readings_0 FOR VALUES IN ('b');
      CREATE TABLE metrics.readings_1 PARTITION OF metrics.readings FOR VALUES FROM (100) TO (200);`);
  });

  it("puts a trigger on every partition, at every level", async () => {
    const result = await installTriggers(admin, { tables: ["metrics.readings"] });
    expect(result.triggersChanged).toBe(5);
    const status = await triggerStatus(admin);
    expect(status.tables.map((t) => [t.table, t.kind, t.partitionOf?.table ?? null])).toEqual([
      ["readings", "partitioned", null],
      ["readings_0", "partition", "readings"],
      ["readings_0_a", "partition", "readings"],
      ["readings_0_b", "partition", "readings"],
      ["readings_1", "partition", "readings"],
    ]);
  });

  it("reports a write made directly to a partition for every table above it", async () => {
    await installTriggers(admin, { tables: ["metrics.readings"] });
    await writer.query("INSERT INTO metrics.readings_0_a VALUES (1, 'a', 1)");
    expect(await changes()).toEqual([
      "metrics.readings insert",
      "metrics.readings_0 insert",
      "metrics.readings_0_a insert",
    ]);
    await writer.query("UPDATE metrics.readings_1 SET v = 2");
    expect(await changes()).toEqual(["metrics.readings update", "metrics.readings_1 update"]);
    await writer.query("TRUNCATE metrics.readings_0");
    expect(await changes()).toEqual([
      "metrics.readings truncate",
      "metrics.readings_0 truncate",
      "metrics.readings_0_a truncate",
      "metrics.readings_0_b truncate",
    ]);
  });

  it("reports a write through the parent for the parent", async () => {
    await installTriggers(admin, { tables: ["metrics.readings"] });
    await writer.query("INSERT INTO metrics.readings VALUES (150, 'x', 1)");
    expect(await changes()).toEqual(["metrics.readings insert"]);
    await writer.query("DELETE FROM metrics.readings WHERE at = 150");
    expect(await changes()).toEqual(["metrics.readings delete"]);
  });

  it("shows a partition created after install in status, and install or ensure covers it", async () => {
    await installTriggers(admin, { tables: ["metrics.readings"] });
    await admin.query(
      "CREATE TABLE metrics.readings_2 PARTITION OF metrics.readings FOR VALUES FROM (200) TO (300)",
    );
    try {
      const status = await triggerStatus(admin);
      expect(status.unwatchedPartitions).toEqual([
        {
          schema: "metrics",
          table: "readings_2",
          partitionOf: { schema: "metrics", table: "readings" },
          channel: DEFAULT_CHANNEL,
        },
      ]);
      await writer.query("INSERT INTO metrics.readings_2 VALUES (250, 'a', 1)");
      expect(await changes()).toEqual([]); // the documented gap until install runs again
      const ensured = await ensureTriggers(admin, { tables: ["metrics.readings"] });
      expect(ensured.installed).toEqual([{ schema: "metrics", table: "readings" }]);
      expect((await triggerStatus(admin)).unwatchedPartitions).toEqual([]);
      await writer.query("INSERT INTO metrics.readings_2 VALUES (251, 'a', 1)");
      expect(await changes()).toEqual(["metrics.readings insert", "metrics.readings_2 insert"]);
    } finally {
      await admin.query("DROP TABLE metrics.readings_2");
    }
  });
});

describe("followNewPartitions (event trigger)", () => {
  beforeAll(async () => {
    await admin.query(`
      CREATE SCHEMA events;
      CREATE TABLE events.log (at int NOT NULL, kind text NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE events.log_0 PARTITION OF events.log FOR VALUES FROM (0) TO (100);
      CREATE TABLE events.unwatched (at int NOT NULL) PARTITION BY RANGE (at);`);
  });

  it("puts the trigger on partitions created or attached later, at any level, on the parent's channel", async () => {
    const before = await catalogSnapshot(admin);
    const channel = "log channel";
    const logRecorder = await recordNotifications(db.url, channel);
    try {
      await installTriggers(admin, { tables: ["events.log"], channel, followNewPartitions: true });
      expect((await triggerStatus(admin)).followsNewPartitions).toBe(true);
      await admin.query(`
        CREATE TABLE events.log_1 PARTITION OF events.log FOR VALUES FROM (100) TO (200) PARTITION BY LIST (kind);
        CREATE TABLE events.log_1_a PARTITION OF events.log_1 FOR VALUES IN ('a');
        CREATE TABLE events.log_2 (at int NOT NULL, kind text NOT NULL);
        ALTER TABLE events.log ATTACH PARTITION events.log_2 FOR VALUES FROM (200) TO (300);
        CREATE TABLE events.unwatched_0 PARTITION OF events.unwatched FOR VALUES FROM (0) TO (10);
        CREATE TABLE events.plain (id int);`);
      const status = await triggerStatus(admin);
      expect(status.unwatchedPartitions).toEqual([]);
      expect(status.tables.map((t) => `${t.table} ${t.channel}`)).toEqual([
        `log ${channel}`,
        `log_0 ${channel}`,
        `log_1 ${channel}`,
        `log_1_a ${channel}`,
        `log_2 ${channel}`,
      ]);
      await writer.query("INSERT INTO events.log_1_a VALUES (150, 'a')");
      await writer.query("INSERT INTO events.log_2 VALUES (250, 'b')");
      const payloads = (await logRecorder.drain(writer)).map((p) => {
        const parsed = parseNotifyPayload(p);
        if (!parsed.ok) throw new Error(`unparseable payload ${p}`);
        return { t: parsed.event.table, op: parsed.event.operation };
      });
      expect(payloads.map((p) => p.t).sort()).toEqual(["log", "log", "log_1", "log_1_a", "log_2"]);

      await admin.query("DROP TABLE events.log_1, events.log_2, events.unwatched_0, events.plain");
      await uninstallTriggers(admin, { all: true });
      expect(await catalogSnapshot(admin)).toEqual(before);
    } finally {
      await logRecorder.close();
    }
  });

  it("needs a superuser, and says so", async () => {
    const role = `pgcw_owner_${Date.now()}`;
    await admin.query(`CREATE ROLE ${role}; GRANT CREATE ON DATABASE ${pgIdent(db.name)} TO ${role};
      CREATE TABLE events.owned (id int); ALTER TABLE events.owned OWNER TO ${role}; GRANT USAGE ON SCHEMA events TO ${role}`);
    try {
      await writer.query(`SET ROLE ${role}`);
      const error = await installTriggers(writer, {
        tables: ["events.owned"],
        followNewPartitions: true,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TriggerPermissionError);
      expect((error as Error).message).toContain("following new partitions needs a superuser");
      // Without the event trigger the same role can install.
      expect((await installTriggers(writer, { tables: ["events.owned"] })).triggersChanged).toBe(1);
      await uninstallTriggers(writer, { all: true });
    } finally {
      await writer.query("RESET ROLE");
      await admin.query(`DROP TABLE events.owned; DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it("is part of the migration text when asked for", async () => {
    await admin.query(triggerSql({ tables: ["events.log"], followNewPartitions: true }));
    expect((await triggerStatus(admin)).followsNewPartitions).toBe(true);
    await admin.query(uninstallTriggerSql({ all: true }));
    expect((await triggerStatus(admin)).followsNewPartitions).toBe(false);
  });
});

function pgIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

describe("notification folding", () => {
  it("sends one notification for a 10,000-row update, and 101 for 10,000 updates in one transaction", async () => {
    await admin.query("CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL)");
    await admin.query("INSERT INTO big SELECT i, 0 FROM generate_series(1, 10000) AS i");
    await installTriggers(admin, { tables: ["big"] });

    const update = await writer.query("UPDATE big SET v = v + 1");
    expect(update.rowCount).toBe(10_000);
    const single = await changes();
    expect(single).toEqual(["public.big update"]);

    await writer.query(`DO $$
      BEGIN
        FOR i IN 1..10000 LOOP
          UPDATE big SET v = v + 1 WHERE id = i;
        END LOOP;
      END $$`);
    // The first 100 statements carry their keys; the rest send the table-wide event, folded into one.
    const looped = await changes();
    expect(looped).toEqual(Array.from({ length: 101 }, () => "public.big update"));
    expect((await admin.query("SELECT sum(v)::int AS total FROM big")).rows[0]).toEqual({ total: 20_000 });
  });

  it("sends one notification per table and operation in a transaction", async () => {
    await admin.query("CREATE TABLE fold_a (id int); CREATE TABLE fold_b (id int)");
    await installTriggers(admin, { tables: ["fold_a", "fold_b"] });
    await writer.query("BEGIN");
    for (let i = 0; i < 50; i++) await writer.query("INSERT INTO fold_a VALUES ($1)", [i]);
    await writer.query("UPDATE fold_a SET id = id + 1");
    await writer.query("INSERT INTO fold_b VALUES (1)");
    await writer.query("COMMIT");
    expect(await changes()).toEqual(["public.fold_a insert", "public.fold_a update", "public.fold_b insert"]);
  });
});

describe("uninstallTriggers", () => {
  it("removes exactly what install made, and nothing of the user's", async () => {
    await admin.query(`
      CREATE TABLE kept (id int);
      CREATE SCHEMA sales;
      CREATE TABLE sales.orders (id int) PARTITION BY RANGE (id);
      CREATE TABLE sales.orders_1 PARTITION OF sales.orders FOR VALUES FROM (0) TO (10);
      CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
      CREATE TRIGGER audit_kept AFTER INSERT ON kept FOR EACH STATEMENT EXECUTE FUNCTION public.audit();`);
    const before = await catalogSnapshot(admin);
    await installTriggers(admin, { tables: ["kept", "sales.orders"] });
    const installed = await catalogSnapshot(admin);
    expect(installed.filter((item) => !before.includes(item))).toEqual([
      "function pgcachewatch.follow_partitions()",
      "function pgcachewatch.notify_change()",
      "function pgcachewatch.probe_signature(text)",
      "function pgcachewatch.put_triggers(oid,text[])",
      "function pgcachewatch.unwatch_all(text)",
      "function pgcachewatch.unwatch_table(text,text,text)",
      "function pgcachewatch.watch_table(text,text,text,text[],integer)",
      "relation pgcachewatch.event_secret r",
      "relation pgcachewatch.event_secret_pkey i",
      "schema pgcachewatch",
      ...["kept", "sales.orders", "sales.orders_1"].flatMap((table) =>
        ["delete", "insert", "truncate", "update"].map(
          (operation) => `trigger ${table} pgcachewatch_notify_${operation} pgcachewatch.notify_change()`,
        ),
      ),
    ]);

    const partial = await uninstallTriggers(admin, { tables: ["sales.orders"] });
    expect(partial).toEqual({ triggersRemoved: 2, functionsRemoved: false, schemaRemoved: false });
    expect(await installedTriggers(admin)).toEqual([`public.kept ${DEFAULT_CHANNEL}`]);

    const all = await uninstallTriggers(admin, { all: true });
    expect(all).toEqual({ triggersRemoved: 1, functionsRemoved: true, schemaRemoved: true });
    expect(await catalogSnapshot(admin)).toEqual(before);
    // And again: nothing left to do, no error.
    expect(await uninstallTriggers(admin, { all: true })).toEqual({
      triggersRemoved: 0,
      functionsRemoved: false,
      schemaRemoved: false,
    });
  });

  it("keeps schema pgcachewatch when it holds something install did not make", async () => {
    await admin.query("CREATE TABLE guest (id int)");
    await installTriggers(admin, { tables: ["guest"] });
    await admin.query("CREATE TABLE pgcachewatch.user_notes (note text)");
    try {
      const result = await uninstallTriggers(admin, { all: true });
      expect(result).toEqual({ triggersRemoved: 1, functionsRemoved: true, schemaRemoved: false });
      expect(
        (await admin.query("SELECT to_regclass('pgcachewatch.user_notes') IS NOT NULL AS kept")).rows[0],
      ).toEqual({
        kept: true,
      });
    } finally {
      await admin.query("DROP SCHEMA pgcachewatch CASCADE");
    }
  });

  it("with a channel, removes only that channel's triggers", async () => {
    await admin.query("CREATE TABLE ch_a (id int); CREATE TABLE ch_b (id int)");
    await installTriggers(admin, { tables: ["ch_a"], channel: "one" });
    await installTriggers(admin, { tables: ["ch_b"], channel: "two" });
    const result = await uninstallTriggers(admin, { all: true, channel: "one" });
    expect(result).toEqual({ triggersRemoved: 1, functionsRemoved: false, schemaRemoved: false });
    expect(await installedTriggers(admin)).toEqual(["public.ch_b two"]);
    expect((await uninstallTriggers(admin, { tables: ["ch_b"], channel: "one" })).triggersRemoved).toBe(0);
  });

  it("refuses an unknown table", async () => {
    await expect(uninstallTriggers(admin, { tables: ["no_such_table"] })).rejects.toThrow(UnknownTableError);
  });
});

describe("triggerSql", () => {
  it("runs as a migration to the same catalog state as installTriggers, and its down migration undoes it", async () => {
    await admin.query("CREATE TABLE mig_a (id int); CREATE SCHEMA mig; CREATE TABLE mig.b (id int)");
    const before = await catalogSnapshot(admin);
    await installTriggers(admin, { tables: ["mig_a", "mig.b"], channel: "migrated" });
    const viaApi = await catalogSnapshot(admin);
    const viaApiTriggers = await installedTriggers(admin);
    await uninstallTriggers(admin, { all: true });
    expect(await catalogSnapshot(admin)).toEqual(before);

    const up = triggerSql({ tables: ["mig_a", "mig.b"], channel: "migrated" });
    await admin.query(up);
    expect(await catalogSnapshot(admin)).toEqual(viaApi);
    expect(await installedTriggers(admin)).toEqual(viaApiTriggers);
    await admin.query(up); // a migration run twice is harmless
    expect(await catalogSnapshot(admin)).toEqual(viaApi);

    await admin.query(uninstallTriggerSql({ all: true }));
    expect(await catalogSnapshot(admin)).toEqual(before);
  });

  it("fails the migration clearly when a table does not exist", async () => {
    await expect(admin.query(triggerSql({ tables: ["missing_in_migration"] }))).rejects.toThrow(
      "pgcachewatch: table public.missing_in_migration does not exist",
    );
  });

  it("can separate statements for drizzle-kit", () => {
    const text = triggerSql({ tables: ["t"], drizzleBreakpoints: true });
    const statements = text.split("--> statement-breakpoint");
    expect(statements.length).toBeGreaterThan(3);
    expect(statements.at(-1)?.trim()).toBe(
      "SELECT pgcachewatch.watch_table(E'public', E't', E'pgcachewatch', NULL::text[], NULL::integer);",
    );
  });
});

describe("triggerStatus and ensureTriggers", () => {
  it("reports tables, channels, disabled triggers and queue usage", async () => {
    await admin.query("CREATE TABLE st_a (id int); CREATE TABLE st_b (id int)");
    expect((await triggerStatus(admin)).installed).toBe(false);
    await installTriggers(admin, { tables: ["st_a"] });
    await installTriggers(admin, { tables: ["st_b"], channel: "elsewhere" });
    await admin.query("ALTER TABLE st_b DISABLE TRIGGER pgcachewatch_notify_insert");
    const status = await triggerStatus(admin);
    const keyed = { layout: "keyed", keyColumns: [], maxRows: 1000 };
    expect(status).toMatchObject({
      installed: true,
      revision: INSTALL_REVISION,
      current: true,
      unwatchedPartitions: [],
      followsNewPartitions: false,
    });
    expect(status.notificationQueueUsage).toBeGreaterThanOrEqual(0);
    expect(status.notificationQueueUsage).toBeLessThan(1);
    expect(status.tables).toEqual([
      { schema: "public", table: "st_a", channel: DEFAULT_CHANNEL, kind: "table", active: true, ...keyed },
      { schema: "public", table: "st_b", channel: "elsewhere", kind: "table", active: false, ...keyed },
    ]);
    expect((await triggerStatus(admin, { channel: "elsewhere" })).tables.map((t) => t.table)).toEqual([
      "st_b",
    ]);

    // ensure re-enables the disabled one and leaves the other alone
    const ensured = await ensureTriggers(admin, { tables: ["st_a", "st_b"], channel: "elsewhere" });
    expect(ensured.installed.map((t) => t.table)).toEqual(["st_a", "st_b"]);
    expect((await triggerStatus(admin)).tables.every((t) => t.active && t.channel === "elsewhere")).toBe(
      true,
    );
  });

  it("upgrades functions from an older revision, and leaves a newer one alone", async () => {
    await admin.query("CREATE TABLE revisions (id int)");
    await installTriggers(admin, { tables: ["revisions"] });
    const setRevision = (revision: number) =>
      admin.query(
        `COMMENT ON FUNCTION pgcachewatch.notify_change() IS 'pgcachewatch revision ${revision}: test'`,
      );

    await setRevision(0);
    expect(await triggerStatus(admin)).toMatchObject({ revision: 0, current: false });
    expect((await ensureTriggers(admin, { tables: ["revisions"] })).functionsUpdated).toBe(true);
    expect(await triggerStatus(admin)).toMatchObject({ revision: INSTALL_REVISION, current: true });

    await setRevision(99);
    expect((await ensureTriggers(admin, { tables: ["revisions"] })).functionsUpdated).toBe(false);
    expect(await triggerStatus(admin)).toMatchObject({ revision: 99, current: true });
  });

  it("does no DDL when everything is in place, so a role without DDL rights can call it", async () => {
    await admin.query("CREATE TABLE ens (id int)");
    await installTriggers(admin, { tables: ["ens"] });
    const role = `pgcw_reader_${Date.now()}`;
    const password = `pw_${Date.now()}`;
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = password;
      const reader = new pg.Client({ connectionString: url.toString() });
      await reader.connect();
      try {
        const result = await ensureTriggers(reader, { tables: ["ens"] });
        expect(result).toEqual({
          channel: DEFAULT_CHANNEL,
          installed: [],
          unchanged: [{ schema: "public", table: "ens" }],
          functionsUpdated: false,
        });
        await admin.query("CREATE TABLE ens_new (id int)");
        const denied = await ensureTriggers(reader, { tables: ["ens_new"] }).catch((e: unknown) => e);
        expect(denied).toMatchObject({ code: "PERMISSION_DENIED" });
      } finally {
        await reader.end();
      }
    } finally {
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

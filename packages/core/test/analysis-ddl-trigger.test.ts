import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ddlEventTriggerNames,
  ddlEventTriggerSql,
  installDdlEventTrigger,
  uninstallDdlEventTriggerSql,
} from "../src/analysis/index.js";
import { type NotificationRecorder, recordNotifications } from "./support/notifications.js";

const db = useTestDatabase("ddl_trigger");

// A channel with both quote characters: every identifier and literal must be quoted.
const CHANNEL = `we"ird'chan`;
const role = `pgcw_ddl_${process.pid}_${Date.now()}`;

let admin: pg.Client;
let writer: pg.Client;
let recorder: NotificationRecorder;

async function eventTriggers(): Promise<string[]> {
  const { rows } = await admin.query<{ evtname: string }>(
    "SELECT evtname FROM pg_event_trigger WHERE evtname LIKE 'pgcachewatch_ddl_%' ORDER BY 1",
  );
  return rows.map((r) => r.evtname);
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  writer = await db.externalWriter();
  await admin.query(`CREATE ROLE "${role}"; GRANT CREATE ON SCHEMA public TO "${role}"`);
  recorder = await recordNotifications(db.url, ddlEventTriggerNames(CHANNEL).channel);
  await installDdlEventTrigger(admin, CHANNEL);
});

afterAll(async () => {
  await recorder?.close();
  await writer?.query("RESET ROLE").catch(() => {});
  await admin?.query(`DROP OWNED BY "${role}"; DROP ROLE "${role}"`).catch(() => {});
  await admin?.end();
});

describe("DDL event trigger", () => {
  it("announces a non-superuser's DDL on <channel>_ddl", async () => {
    await writer.query(`SET ROLE "${role}"`);
    try {
      await writer.query("CREATE TABLE public.role_table (id int)");
      await writer.query("ALTER TABLE public.role_table ADD COLUMN name text");
      await writer.query("DROP TABLE public.role_table");
    } finally {
      await writer.query("RESET ROLE");
    }
    expect(await recorder.drain(writer)).toEqual([
      "ddl_command_end CREATE TABLE",
      "ddl_command_end ALTER TABLE",
      "sql_drop DROP TABLE",
      "ddl_command_end DROP TABLE",
    ]);
  });

  it("never fails the user's DDL, even when the notification cannot be sent", async () => {
    // Without EXECUTE on pg_notify the role's notification raises; its DDL must still succeed.
    await admin.query("REVOKE EXECUTE ON FUNCTION pg_catalog.pg_notify(text, text) FROM PUBLIC");
    await writer.query(`SET ROLE "${role}"`);
    try {
      await writer.query("CREATE TABLE public.unnotified (id int)");
      await writer.query("DROP TABLE public.unnotified");
    } finally {
      await writer.query("RESET ROLE");
      await admin.query("GRANT EXECUTE ON FUNCTION pg_catalog.pg_notify(text, text) TO PUBLIC");
    }
    // The superuser's REVOKE and GRANT are announced; the role's CREATE and DROP could not be.
    expect(await recorder.drain(writer)).toEqual(["ddl_command_end REVOKE", "ddl_command_end GRANT"]);
  });

  it("is idempotent and uninstalls exactly", async () => {
    const names = ddlEventTriggerNames(CHANNEL);
    await admin.query(ddlEventTriggerSql(CHANNEL));
    await installDdlEventTrigger(admin, CHANNEL);
    expect(await eventTriggers()).toEqual([names.commandEndTrigger, names.dropTrigger].sort());
    await recorder.drain(writer); // the reinstall's own CREATE FUNCTION
    await admin.query(uninstallDdlEventTriggerSql(CHANNEL));
    expect(await eventTriggers()).toEqual([]);
    await admin.query("CREATE TABLE after_uninstall (id int)");
    expect(await recorder.drain(writer)).toEqual([]);
  });

  it("needs a superuser to install, and says so with a typed error", async () => {
    await writer.query(`SET ROLE "${role}"`);
    try {
      await expect(installDdlEventTrigger(writer, "other")).rejects.toMatchObject({
        code: "DDL_EVENT_TRIGGER_INSTALL",
      });
    } finally {
      await writer.query("RESET ROLE");
    }
  });

  it("rejects a channel whose _ddl name would not fit", () => {
    expect(() => ddlEventTriggerNames("c".repeat(60))).toThrow(/longer than 63 bytes/);
  });
});

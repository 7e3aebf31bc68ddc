import { randomBytes } from "node:crypto";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installTriggers, triggerStatus } from "../src/index.js";

const db = useTestDatabase("fault_follow");

describe("install --follow-partitions and other roles' DDL", () => {
  const role = `pgcw_dev_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  let admin: pg.Client;
  let developer: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`
      CREATE TABLE parted (id int) PARTITION BY RANGE (id);
      CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);`);
    await installTriggers(admin, { tables: ["parted"], followNewPartitions: true });
    expect((await triggerStatus(admin)).followsNewPartitions).toBe(true);
    // An ordinary role: no superuser, no privilege on schema pgcachewatch, a schema of its own.
    await admin.query(
      `CREATE ROLE ${role} LOGIN NOSUPERUSER PASSWORD '${password}'; CREATE SCHEMA dev AUTHORIZATION ${role}`,
    );
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    developer = new pg.Client({ connectionString: url.toString() });
    await developer.connect();
  });
  afterAll(async () => {
    await developer?.end();
    await admin.query(`DROP SCHEMA IF EXISTS dev CASCADE; DROP OWNED BY ${role}; DROP ROLE ${role}`);
    await admin.end();
  });

  it("a non-superuser's CREATE TABLE and ALTER TABLE succeed", async () => {
    const { rows } = await developer.query<{ superuser: boolean }>(
      "SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user",
    );
    expect(rows[0]?.superuser).toBe(false);
    await developer.query("CREATE TABLE dev.notes (id int)");
    await developer.query("ALTER TABLE dev.notes ADD COLUMN body text");
    await developer.query("CREATE TABLE dev.log (id int) PARTITION BY RANGE (id)");
    await developer.query("CREATE TABLE dev.log_1 PARTITION OF dev.log FOR VALUES FROM (0) TO (10)");
  });

  it("a partition that role creates below a watched table still gets the trigger", async () => {
    await installTriggers(admin, { tables: ["dev.log"] });
    await developer.query("CREATE TABLE dev.log_2 PARTITION OF dev.log FOR VALUES FROM (10) TO (20)");
    const status = await triggerStatus(admin);
    expect(status.unwatchedPartitions).toEqual([]);
    expect(status.tables.map((t) => `${t.schema}.${t.table}`)).toContain("dev.log_2");
  });
});

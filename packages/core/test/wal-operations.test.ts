import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createWalSource, walDrop, walSetup, walStatus } from "../src/sources/wal/index.js";
import {
  announceWalAvailability,
  checkWalAvailability,
  RecordingHandlers,
  type WalAvailability,
} from "./wal-support.js";

const db = useTestDatabase("wal_operations");
let wal: WalAvailability = { ok: false, reason: "not checked" };

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-operations.test.ts");
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE SCHEMA "Audit";
    CREATE TABLE items (id int PRIMARY KEY);
    CREATE TABLE "Audit"."Log.Entries" (id int PRIMARY KEY);
    CREATE TABLE keyless (v int);
    CREATE TABLE keyless_full (v int);
    ALTER TABLE keyless_full REPLICA IDENTITY FULL;
  `);
});

describe("walSetup / walStatus / walDrop", () => {
  it("creates the publication idempotently, extends it, reports it, and drops it", async () => {
    const url = db.url;
    const before = await walStatus({ connectionString: url, publication: "pgcw_ops" });
    expect(before.publication.exists).toBe(false);
    // The status names what would stop the WAL source, with the fix; on a logical server, nothing.
    if (wal.ok) expect(before.problems).toEqual([]);
    else expect(before.problems.join("\n")).toMatch(/wal_level|REPLICATION|slot|WAL senders/);

    const first = await walSetup({ connectionString: url, publication: "pgcw_ops", tables: ["items"] });
    expect(first).toMatchObject({
      publicationCreated: true,
      tablesAdded: [{ schema: "public", table: "items" }],
    });
    const again = await walSetup({ connectionString: url, publication: "pgcw_ops", tables: ["items"] });
    expect(again).toMatchObject({ publicationCreated: false, tablesAdded: [] });
    const extended = await walSetup({
      connectionString: url,
      publication: "pgcw_ops",
      tables: ["items", { schema: "Audit", table: "Log.Entries" }, "keyless_full"],
    });
    expect(extended.tablesAdded).toEqual([
      { schema: "Audit", table: "Log.Entries" },
      { schema: "public", table: "keyless_full" },
    ]);
    const status = await walStatus({ connectionString: url, publication: "pgcw_ops" });
    expect(status.publication).toMatchObject({
      exists: true,
      allTables: false,
      publishes: ["insert", "update", "delete", "truncate"],
    });
    expect(status.publication.tables).toEqual([
      { schema: "Audit", table: "Log.Entries" },
      { schema: "public", table: "items" },
      { schema: "public", table: "keyless_full" },
    ]);
    expect(await walDrop({ connectionString: url, publication: "pgcw_ops" })).toEqual({
      publicationDropped: true,
      slotDropped: false,
    });
    expect(await walDrop({ connectionString: url, publication: "pgcw_ops" })).toEqual({
      publicationDropped: false,
      slotDropped: false,
    });
  });

  it("refuses tables without a replica identity and bad arguments", async () => {
    await expect(
      walSetup({ connectionString: db.url, publication: "pgcw_ops2", tables: ["keyless"] }),
    ).rejects.toMatchObject({ code: "MISSING_REPLICA_IDENTITY" });
    await expect(
      walSetup({ connectionString: db.url, publication: "pgcw_ops2", allTables: true }),
    ).rejects.toMatchObject({ code: "MISSING_REPLICA_IDENTITY", tables: ["public.keyless"] });
    await expect(walSetup({ connectionString: db.url })).rejects.toMatchObject({
      code: "INVALID_WAL_OPTIONS",
    });
    await expect(
      walDrop({ connectionString: db.url, permanentSlot: "x; DROP TABLE items" }),
    ).rejects.toMatchObject({ code: "INVALID_WAL_OPTIONS" });
    const status = await walStatus({ connectionString: db.url, publication: "pgcw_ops2" });
    expect(status.publication.exists).toBe(false);
  });

  it("keeps a publication name with quotes and spaces as data", async () => {
    const name = `we"ird pub'; --`;
    await walSetup({ connectionString: db.url, publication: name, tables: ["items"] });
    const status = await walStatus({ connectionString: db.url, publication: name });
    expect(status.publication).toMatchObject({
      name,
      exists: true,
      tables: [{ schema: "public", table: "items" }],
    });
    if (wal.ok) {
      // The source streams it too (the name is quoted inside START_REPLICATION's option literal).
      const source = createWalSource({
        connectionString: db.url,
        publication: name,
        managePublication: false,
      });
      onTestFinished(() => source.stop());
      const handlers = new RecordingHandlers();
      await source.start(handlers);
      await handlers.until(() => handlers.count("ready") >= 1, "ready");
      const writer = await db.externalWriter();
      await writer.query("INSERT INTO items VALUES (1)");
      await handlers.until(() => handlers.eventsFor("items").length >= 1, "event");
      expect(source.coverage()).toEqual({ allTables: false, tables: [{ schema: "public", table: "items" }] });
      await source.stop();
    }
    expect((await walDrop({ connectionString: db.url, publication: name })).publicationDropped).toBe(true);
  });

  it("creates, lists and drops a permanent slot", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const result = await walSetup({
      connectionString: db.url,
      publication: "pgcw_ops3",
      tables: ["items"],
      permanentSlot: "pgcw_ops_slot",
    });
    expect(result.slotCreated).toBe(true);
    expect(
      (
        await walSetup({
          connectionString: db.url,
          publication: "pgcw_ops3",
          tables: ["items"],
          permanentSlot: "pgcw_ops_slot",
        })
      ).slotCreated,
    ).toBe(false);
    const status = await walStatus({ connectionString: db.url, publication: "pgcw_ops3" });
    expect(status.slots).toEqual([
      expect.objectContaining({ name: "pgcw_ops_slot", temporary: false, active: false }),
    ]);
    expect(
      await walDrop({ connectionString: db.url, publication: "pgcw_ops3", permanentSlot: "pgcw_ops_slot" }),
    ).toEqual({
      publicationDropped: true,
      slotDropped: true,
    });
    expect((await walStatus({ connectionString: db.url })).slots).toEqual([]);
  });

  it("a source with managePublication: false needs the publication to exist; allTables needs an all-tables one", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const missing = createWalSource({
      connectionString: db.url,
      publication: "pgcw_absent",
      managePublication: false,
    });
    await expect(missing.start(new RecordingHandlers())).rejects.toMatchObject({
      code: "PUBLICATION_MISSING",
    });
    await walSetup({ connectionString: db.url, publication: "pgcw_list", tables: ["items"] });
    const writer = await db.externalWriter();
    await writer.query("ALTER TABLE keyless REPLICA IDENTITY FULL"); // else the replica identity check answers first
    const all = createWalSource({ connectionString: db.url, publication: "pgcw_list", allTables: true });
    await expect(all.start(new RecordingHandlers())).rejects.toMatchObject({
      code: "PUBLICATION_NOT_ALL_TABLES",
    });
    await walDrop({ connectionString: db.url, publication: "pgcw_list" });
  });
});

import { startTcpProxy } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createWalSource,
  parseLsn,
  type WalSource,
  type WalSourceOptions,
} from "../src/sources/wal/index.js";
import {
  announceWalAvailability,
  checkWalAvailability,
  RecordingHandlers,
  type WalAvailability,
} from "./wal-support.js";

const db = useTestDatabase("wal_source");
let wal: WalAvailability = { ok: false, reason: "not checked" };
const sources: WalSource[] = [];

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-source.test.ts");
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE orders (id bigint PRIMARY KEY, item_id int, qty int);
    CREATE TABLE "Mixed Case" (k text PRIMARY KEY);
    CREATE TABLE unwatched (id int PRIMARY KEY);
    CREATE TABLE no_key (v int);
  `);
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

async function startSource(
  options: Partial<WalSourceOptions> = {},
): Promise<{ source: WalSource; handlers: RecordingHandlers }> {
  const source = createWalSource({
    connectionString: db.url,
    tables: ["items", "orders", { table: "Mixed Case" }],
    publication: "pgcw_test_pub",
    heartbeatInterval: 500,
    heartbeatTimeout: 5000,
    reconnectDelay: { initial: 50, max: 500 },
    ...options,
  });
  sources.push(source);
  const handlers = new RecordingHandlers();
  await source.start(handlers);
  await handlers.until(() => handlers.count("ready") >= 1, "ready");
  return { source, handlers };
}

async function slotRow(name: string) {
  const admin = await db.externalWriter();
  try {
    const { rows } = await admin.query<{
      active: boolean;
      active_pid: number | null;
      confirmed: string | null;
    }>(
      "SELECT active, active_pid, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1",
      [name],
    );
    return rows[0];
  } finally {
    await admin.end();
  }
}

describe("WAL source: preflight", () => {
  it("refuses to start when wal_level is not logical, saying how to fix it", async (ctx) => {
    const writer = await db.externalWriter();
    const { rows } = await writer.query<{ w: string }>("SELECT current_setting('wal_level') AS w");
    if (rows[0]?.w === "logical")
      return ctx.skip("the test server has wal_level=logical (covered in wal-server.test.ts)");
    const source = createWalSource({
      connectionString: db.url,
      tables: ["items"],
      publication: "pgcw_never",
    });
    const handlers = new RecordingHandlers();
    const error = await source.start(handlers).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "WAL_LEVEL_NOT_LOGICAL" });
    expect(String((error as Error).message)).toContain("ALTER SYSTEM SET wal_level = logical");
    expect(handlers.count("ready")).toBe(0);
    await source.stop();
  });

  it("refuses tables without a replica identity (publishing them would break their UPDATE/DELETE)", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const source = createWalSource({
      connectionString: db.url,
      tables: ["items", "no_key"],
      publication: "pgcw_bad",
    });
    const error = await source.start(new RecordingHandlers()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "MISSING_REPLICA_IDENTITY", tables: ["public.no_key"] });
    expect(String((error as Error).message)).toContain("REPLICA IDENTITY FULL");
    // Nothing was created: the writers of no_key keep working.
    const writer = await db.externalWriter();
    expect((await writer.query("SELECT 1 FROM pg_publication WHERE pubname = 'pgcw_bad'")).rowCount).toBe(0);
    await writer.query("INSERT INTO no_key VALUES (1); UPDATE no_key SET v = 2; DELETE FROM no_key");
  });

  it("refuses unknown tables and options that cannot work", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const source = createWalSource({ connectionString: db.url, tables: ["nope"], publication: "pgcw_bad" });
    await expect(source.start(new RecordingHandlers())).rejects.toMatchObject({
      code: "WATCHED_TABLE_NOT_FOUND",
    });
    expect(() => createWalSource({ connectionString: db.url })).toThrow(/tables/);
    expect(() =>
      createWalSource({ connectionString: db.url, tables: ["a"], permanentSlot: "Bad-Name" }),
    ).toThrow(expect.objectContaining({ code: "INVALID_WAL_OPTIONS" }));
  });

  it("refuses a role without the REPLICATION privilege, naming the fix", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const admin = await db.externalWriter();
    const role = `pgcw_norepl_${Math.random().toString(16).slice(2, 10)}`;
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw' NOREPLICATION`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = "pw";
      const source = createWalSource({
        connectionString: url.toString(),
        tables: ["items"],
        publication: "pgcw_x",
      });
      const error = await source.start(new RecordingHandlers()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "REPLICATION_PRIVILEGE_MISSING" });
      expect(String((error as Error).message)).toContain(`ALTER ROLE "${role}" WITH REPLICATION`);
    } finally {
      await admin.query(`DROP ROLE ${role}`);
    }
  });
});

describe("WAL source: changes from an external writer", () => {
  it("reports insert, update, delete and truncate with primary keys", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource();
    const writer = await db.externalWriter();
    await writer.query("INSERT INTO items VALUES (1, 'a'), (2, 'b')");
    await writer.query("UPDATE items SET name = 'c' WHERE id = 2");
    await writer.query("DELETE FROM items WHERE id = 1");
    await writer.query("TRUNCATE items");
    await handlers.until(() => handlers.eventsFor("items", "truncate").length >= 1, "truncate event");
    const [insert] = handlers.eventsFor("items", "insert");
    expect(insert).toMatchObject({ schema: "public", table: "items", keys: [{ id: 1 }, { id: 2 }] });
    expect(insert?.sentAt).toBeTypeOf("number");
    expect(insert?.receivedAt).toBeTypeOf("number");
    expect(handlers.eventsFor("items", "update")[0]?.keys).toEqual([{ id: 2 }]);
    expect(handlers.eventsFor("items", "delete")[0]?.keys).toEqual([{ id: 1 }]);
    expect(handlers.eventsFor("items", "truncate")[0]?.keys).toBeUndefined();
    expect(handlers.malformed).toEqual([]);
  });

  it("reports a multi-table transaction at its commit, one event per table and operation", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource({ visibilityDelay: 60_000 });
    const writer = await db.externalWriter();
    await writer.query("BEGIN");
    await writer.query("INSERT INTO items VALUES (10, 'x')");
    await writer.query("INSERT INTO orders VALUES (1, 10, 1), (2, 10, 2)");
    await writer.query("INSERT INTO items VALUES (11, 'y')");
    await writer.query(`INSERT INTO "Mixed Case" VALUES ('K')`);
    // Nothing before COMMIT.
    await writer.query("INSERT INTO unwatched VALUES (1)");
    expect(handlers.events).toEqual([]);
    await writer.query("COMMIT");
    await handlers.until(() => handlers.events.length >= 3, "3 events");
    const tables = handlers.events.map((e) => `${e.table}:${e.operation}`).sort();
    expect(tables).toEqual(["Mixed Case:insert", "items:insert", "orders:insert"]);
    expect(handlers.eventsFor("items")[0]?.keys).toEqual([{ id: 10 }, { id: 11 }]);
    // bigint keys come back as pg returns them (string), so they compare equal to query results.
    expect(handlers.eventsFor("orders")[0]?.keys).toEqual([{ id: "1" }, { id: "2" }]);
    expect(new Set(handlers.events.map((e) => e.sentAt)).size).toBe(1);
  });

  it("reports nothing for a rolled-back transaction or an unwatched table", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource();
    const writer = await db.externalWriter();
    await writer.query("BEGIN");
    await writer.query("INSERT INTO items VALUES (20, 'rolled back')");
    await writer.query("ROLLBACK");
    await writer.query("INSERT INTO unwatched VALUES (20)");
    await writer.query("INSERT INTO orders VALUES (20, 20, 1)"); // the marker: everything before it was decoded
    await handlers.until(() => handlers.eventsFor("orders").length >= 1, "marker event");
    expect(handlers.eventsFor("items")).toEqual([]);
    expect(handlers.eventsFor("unwatched")).toEqual([]);
  });

  it("drops row keys beyond maxKeysPerEvent (the event becomes table-level)", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource({ maxKeysPerEvent: 3 });
    const writer = await db.externalWriter();
    await writer.query("INSERT INTO items SELECT g, 'n' FROM generate_series(100, 104) g");
    await handlers.until(() => handlers.eventsFor("items", "insert").length >= 1, "insert event");
    expect(handlers.eventsFor("items", "insert")[0]?.keys).toBeUndefined();
  });

  it("reports every change a second time after visibilityDelay (rule 9)", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource({ visibilityDelay: 200 });
    const writer = await db.externalWriter();
    await writer.query("UPDATE items SET name = 'rule 9' WHERE id = 10");
    await handlers.until(() => handlers.eventsFor("items", "update").length >= 1, "first report");
    await handlers.until(() => handlers.eventsFor("items", "update").length >= 2, "second report");
    const [first, second] = handlers.eventsFor("items", "update");
    expect(second).toMatchObject({ table: "items", operation: "update", keys: first?.keys });
  });
});

describe("WAL source: slots, acknowledgement and loss", () => {
  it("uses a temporary slot that disappears when the source stops", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { source } = await startSource();
    const slot = source.status().slot;
    expect(slot).toMatch(/^pgcw_tmp_/);
    expect(source.status()).toMatchObject({ streaming: true, temporarySlot: true });
    expect(await slotRow(slot ?? "")).toMatchObject({ active: true });
    await source.stop();
    const deadline = Date.now() + 10_000;
    while ((await slotRow(slot ?? "")) && Date.now() < deadline) await sleep(100);
    expect(await slotRow(slot ?? "")).toBeUndefined();
  });

  it("acknowledges applied changes on a permanent slot, so confirmed_flush_lsn advances", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource({ permanentSlot: "pgcw_test_ack" });
    try {
      const writer = await db.externalWriter();
      await writer.query("INSERT INTO items VALUES (200, 'ack')");
      const { rows } = await writer.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
      const target = parseLsn(rows[0]?.lsn ?? "") ?? 0n;
      await handlers.until(() => handlers.eventsFor("items", "insert").length >= 1, "insert event");
      const deadline = Date.now() + 15_000;
      let confirmed = 0n;
      while (Date.now() < deadline) {
        confirmed = parseLsn((await slotRow("pgcw_test_ack"))?.confirmed ?? "") ?? 0n;
        if (confirmed >= target) break;
        await sleep(100);
      }
      expect(confirmed >= target).toBe(true);
    } finally {
      await Promise.all(sources.splice(0).map((s) => s.stop()));
      await dropSlotEventually("pgcw_test_ack");
    }
  });

  it("does not acknowledge a transaction whose events were not applied: a permanent slot redelivers it", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    let failures = 1;
    const handlers = new RecordingHandlers();
    const failing = new Proxy(handlers, {
      get(target, property, receiver) {
        if (property === "onChange") {
          return (event: Parameters<RecordingHandlers["onChange"]>[0]) => {
            if (event.table === "orders" && failures > 0) {
              failures--;
              throw new Error("engine failed to apply");
            }
            target.onChange(event);
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const source = createWalSource({
      connectionString: db.url,
      tables: ["items", "orders"],
      publication: "pgcw_test_pub",
      permanentSlot: "pgcw_test_redeliver",
      reconnectDelay: { initial: 50, max: 200 },
      visibilityDelay: 60_000,
    });
    sources.push(source);
    try {
      await source.start(failing);
      await handlers.until(() => handlers.count("ready") >= 1, "ready");
      const writer = await db.externalWriter();
      await writer.query("INSERT INTO orders VALUES (300, 1, 1)");
      await handlers.until(() => handlers.count("lost") >= 1, "stream restart after the failed apply");
      await handlers.until(() => handlers.eventsFor("orders", "insert").length >= 1, "redelivered event");
      expect(handlers.eventsFor("orders", "insert")[0]?.keys).toEqual([{ id: "300" }]);
      expect(handlers.errors.map((e) => e.message)).toContain("engine failed to apply");
    } finally {
      await Promise.all(sources.splice(0).map((s) => s.stop()));
      await dropSlotEventually("pgcw_test_redeliver");
    }
  });

  it("resumes a permanent slot where it was acknowledged: a change made while stopped is reported", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    try {
      const first = await startSource({ permanentSlot: "pgcw_test_resume", visibilityDelay: 60_000 });
      const writer = await db.externalWriter();
      await writer.query("INSERT INTO items VALUES (600, 'before stop')");
      await first.handlers.until(
        () => first.handlers.eventsFor("items", "insert").length >= 1,
        "first event",
      );
      await first.source.stop();
      await writer.query("UPDATE items SET name = 'while stopped' WHERE id = 600");
      const second = await startSource({ permanentSlot: "pgcw_test_resume", visibilityDelay: 60_000 });
      await second.handlers.until(
        () => second.handlers.eventsFor("items", "update").length >= 1,
        "resumed event",
      );
      expect(second.handlers.eventsFor("items", "update")[0]?.keys).toEqual([{ id: 600 }]);
      // The acknowledged insert is not sent again.
      expect(second.handlers.eventsFor("items", "insert")).toEqual([]);
    } finally {
      await Promise.all(sources.splice(0).map((s) => s.stop()));
      await dropSlotEventually("pgcw_test_resume");
    }
  });

  it("answers the server's keepalive requests, so a short wal_sender_timeout does not cut the stream", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    // Our own heartbeat is made too rare to matter: only replies to the server's requests keep it alive.
    const { source, handlers } = await startSource({
      clientConfig: { options: "-c wal_sender_timeout=1000" },
      heartbeatInterval: 60_000,
      heartbeatTimeout: 120_000,
    });
    const pid = source.status().walSenderPid;
    const admin = await db.externalWriter();
    await sleep(3500); // more than three timeouts
    expect(handlers.count("lost")).toBe(0);
    expect(source.status()).toMatchObject({ streaming: true, walSenderPid: pid });
    await admin.query("INSERT INTO items VALUES (700, 'still streaming')");
    await handlers.until(() => handlers.eventsFor("items", "insert").length >= 1, "event");
  });

  it("reports the loss when the WAL sender is terminated, and streams again", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { source, handlers } = await startSource();
    const pid = source.status().walSenderPid;
    expect(pid).toBeTypeOf("number");
    const admin = await db.externalWriter();
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await handlers.until(() => handlers.count("lost") >= 1, "lost");
    await handlers.until(() => handlers.count("ready") >= 2, "ready again");
    expect(handlers.log.indexOf(handlers.log.find((l) => l.startsWith("lost")) ?? "")).toBeLessThan(
      handlers.log.lastIndexOf("ready"),
    );
    expect(source.status().walSenderPid).not.toBe(pid);
    await admin.query("INSERT INTO items VALUES (400, 'after reconnect')");
    await handlers.until(() => handlers.eventsFor("items", "insert").length >= 1, "event after reconnect");
  });

  it("recreates a dropped permanent slot and streams again", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource({
      permanentSlot: "pgcw_test_dropped",
      reconnectDelay: { initial: 800, max: 1500 },
    });
    try {
      const admin = await db.externalWriter();
      // Terminate the WAL sender, then drop the slot before the source comes back.
      const deadline = Date.now() + 15_000;
      let dropped = false;
      while (!dropped && Date.now() < deadline) {
        await admin.query(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active",
          ["pgcw_test_dropped"],
        );
        try {
          await admin.query("SELECT pg_drop_replication_slot($1)", ["pgcw_test_dropped"]);
          dropped = true;
        } catch {
          await sleep(20);
        }
      }
      expect(dropped).toBe(true);
      await handlers.until(() => handlers.count("lost") >= 1, "lost");
      await handlers.until(() => handlers.count("ready") >= 2, "ready again");
      expect(await slotRow("pgcw_test_dropped")).toMatchObject({ active: true });
      await admin.query("INSERT INTO items VALUES (500, 'after drop')");
      await handlers.until(() => handlers.eventsFor("items", "insert").length >= 1, "event after recreation");
    } finally {
      await Promise.all(sources.splice(0).map((s) => s.stop()));
      await dropSlotEventually("pgcw_test_dropped");
    }
  });

  it("detects a connection that went silent (no TCP close) with its heartbeat, and reconnects", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const target = new URL(db.url);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    try {
      const { handlers } = await startSource({
        connectionString: proxy.url(db.url),
        heartbeatInterval: 200,
        heartbeatTimeout: 1500,
      });
      proxy.freeze();
      await handlers.until(() => handlers.count("lost") >= 1, "lost after silence");
      expect(handlers.log.find((l) => l.startsWith("lost"))).toContain("no message from the WAL sender");
      proxy.thaw();
      await handlers.until(() => handlers.count("ready") >= 2, "ready again through a fresh connection");
    } finally {
      await Promise.all(sources.splice(0).map((s) => s.stop()));
      await proxy.close();
    }
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function dropSlotEventually(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const { rows } = await admin.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [name],
      );
      if (!rows[0]) return;
      if (!rows[0].active) {
        await admin.query("SELECT pg_drop_replication_slot($1)", [name]).catch(() => {});
      }
      await sleep(100);
    }
  } finally {
    await admin.end();
  }
}

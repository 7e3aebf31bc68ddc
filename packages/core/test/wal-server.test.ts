import {
  createTestDatabase,
  type EmbeddedServer,
  startEmbeddedServer,
  type TestDatabase,
} from "@pgcachewatch/testdb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createWalSource } from "../src/sources/wal/index.js";
import { RecordingHandlers } from "./wal-support.js";

// These tests start private embedded servers (wal_level and slot limits are server settings), so
// they run the same whatever server the rest of the suite uses.

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

describe("WAL source on a server with wal_level = replica", () => {
  let server: EmbeddedServer;
  let db: TestDatabase;
  beforeAll(async () => {
    server = await startEmbeddedServer({ settings: { wal_level: "replica" } });
    db = await createTestDatabase(server.adminUrl, "wal_replica");
    await withClient(db.url, (c) => c.query("CREATE TABLE items (id int PRIMARY KEY)"));
  });
  afterAll(async () => {
    await db?.drop();
    await server?.stop();
  });

  it("refuses to start and says how to enable logical decoding", async () => {
    const source = createWalSource({ connectionString: db.url, tables: ["items"] });
    const handlers = new RecordingHandlers();
    const error = await source.start(handlers).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "WAL_LEVEL_NOT_LOGICAL", walLevel: "replica" });
    expect((error as Error).message).toMatch(/ALTER SYSTEM SET wal_level = logical;.*restart PostgreSQL/s);
    expect(handlers.count("ready")).toBe(0);
    // Nothing was left behind.
    const publications = await withClient(db.url, (c) => c.query("SELECT 1 FROM pg_publication"));
    expect(publications.rowCount).toBe(0);
    await source.stop();
  });
});

describe("WAL source on a private logical server", () => {
  let server: EmbeddedServer;
  let db: TestDatabase;
  beforeAll(async () => {
    server = await startEmbeddedServer({ settings: { max_replication_slots: 2 } });
    db = await createTestDatabase(server.adminUrl, "wal_private");
    await withClient(db.url, (c) => c.query("CREATE TABLE items (id int PRIMARY KEY, name text)"));
  });
  afterAll(async () => {
    await db?.drop();
    await server?.stop();
  });

  it("refuses to start when every replication slot is taken, naming the unused ones", async () => {
    await withClient(db.url, async (c) => {
      await c.query("SELECT pg_create_logical_replication_slot('forgotten_a', 'pgoutput')");
      await c.query("SELECT pg_create_logical_replication_slot('forgotten_b', 'pgoutput')");
    });
    try {
      const source = createWalSource({ connectionString: db.url, tables: ["items"] });
      const error = await source.start(new RecordingHandlers()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "NO_FREE_REPLICATION_SLOT" });
      expect((error as Error).message).toContain("forgotten_a, forgotten_b");
      expect((error as Error).message).toContain("pg_drop_replication_slot");
      expect((error as Error).message).toContain("max_replication_slots");
      await source.stop();
    } finally {
      await withClient(db.url, async (c) => {
        await c.query("SELECT pg_drop_replication_slot('forgotten_a')");
        await c.query("SELECT pg_drop_replication_slot('forgotten_b')");
      });
    }
  });

  it("survives a server restart: reports the loss, streams again, and reports later changes", async () => {
    const source = createWalSource({
      connectionString: db.url,
      tables: ["items"],
      reconnectDelay: { initial: 100, max: 1000 },
      heartbeatInterval: 500,
    });
    onTestFinished(() => source.stop());
    const handlers = new RecordingHandlers();
    await source.start(handlers);
    await handlers.until(() => handlers.count("ready") >= 1, "ready");
    await server.restart();
    await handlers.until(() => handlers.count("lost") >= 1, "lost", 30_000);
    await handlers.until(() => handlers.count("ready") >= 2, "ready after restart", 30_000);
    await withClient(db.url, (c) => c.query("INSERT INTO items VALUES (1, 'after restart')"));
    await handlers.until(() => handlers.eventsFor("items", "insert").length >= 1, "event after restart");
    expect(handlers.eventsFor("items", "insert")[0]?.keys).toEqual([{ id: 1 }]);
  });
});

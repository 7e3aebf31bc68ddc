import {
  createTestDatabase,
  type EmbeddedServer,
  startEmbeddedServer,
  startTcpProxy,
} from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { quoteIdentifier } from "../src/adapter.js";
import { createCacheWatch, type NotifySource } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { nextEvent } from "./support/wait.js";

const db = useTestDatabase("engine_faults");

async function setupSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items VALUES (1, 0)",
  );
  await createTestTrigger(client, "items");
  await client.end();
}

describe("listener loss (rule 2)", () => {
  let pool: pg.Pool;
  let writer: pg.Client;
  beforeAll(async () => {
    await setupSchema(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    writer = await db.externalWriter();
  });
  afterAll(async () => {
    await pool.end();
  });

  it("pg_terminate_backend on the listener: flush, bypass while down, reconnect, resume", async () => {
    const watch = createCacheWatch({
      connectionString: db.url,
      heartbeatInterval: 1000,
      reconnectDelay: { initial: 50, max: 200 },
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    const read = () =>
      watch.load(
        { key: "item:1", tables: ["items"] },
        async () => (await pool.query("SELECT v FROM items WHERE id = 1")).rows[0],
      );
    await read();
    await read();
    expect(watch.stats()).toMatchObject({ hits: 1, entries: 1 });

    // Keep the listener from coming back until we have looked at the lost state.
    const admin = new pg.Client({ connectionString: db.adminUrl });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${quoteIdentifier(db.name)} ALLOW_CONNECTIONS false`);
    const pid = (watch.source as NotifySource).backendPid;
    const lost = nextEvent(watch, "lost");
    await writer.query("SELECT pg_terminate_backend($1)", [pid]);
    await lost;
    expect(watch.isServing()).toBe(false);
    expect(watch.stats().entries).toBe(0);

    // Down: reads work and go to the database; nothing is stored; a write is seen at once.
    const bypassed = watch.stats().bypassed;
    await writer.query("UPDATE items SET v = 1 WHERE id = 1");
    expect(await read()).toEqual({ v: 1 });
    expect(await read()).toEqual({ v: 1 });
    expect(watch.stats()).toMatchObject({ bypassed: bypassed + 2, entries: 0 });

    const ready = nextEvent(watch, "ready", () => true, 20_000);
    await admin.query(`ALTER DATABASE ${quoteIdentifier(db.name)} ALLOW_CONNECTIONS true`);
    await admin.end();
    await ready;
    expect((watch.source as NotifySource).backendPid).not.toBe(pid);
    expect(watch.stats().reconnects).toBe(1);

    // Resumed: caches again and hears writes again.
    await read();
    await read();
    expect(watch.stats().entries).toBe(1);
    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "change");
    await writer.query("UPDATE items SET v = 2 WHERE id = 1");
    await invalidated;
    expect(await read()).toEqual({ v: 2 });
    await watch.stop();
  });

  it("after 20 forced reconnects there is exactly one listener connection", async () => {
    const watch = createCacheWatch({
      connectionString: db.url,
      heartbeatInterval: 1000,
      reconnectDelay: { initial: 10, max: 50 },
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    for (let i = 0; i < 20; i++) {
      const ready = nextEvent(watch, "ready");
      await writer.query("SELECT pg_terminate_backend($1)", [(watch.source as NotifySource).backendPid]);
      await ready;
    }
    const { rows } = await writer.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgcachewatch-listener'",
    );
    expect(rows[0]?.n).toBe(1);
    expect(watch.stats().reconnects).toBe(20);
    await watch.stop();
    const after = await writer.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgcachewatch-listener'",
    );
    expect(after.rows[0]?.n).toBe(0);
  });
});

describe("server restart (rule 2)", () => {
  let server: EmbeddedServer;
  beforeAll(async () => {
    server = await startEmbeddedServer();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("a full restart of the server: lost and flushed, back, resume", async () => {
    const database = await createTestDatabase(server.adminUrl, "restart");
    await setupSchema(database.url);
    const watch = createCacheWatch({
      connectionString: database.url,
      heartbeatInterval: 500,
      reconnectDelay: { initial: 50, max: 500 },
    });
    await watch.start();
    const query = async () => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        return (await client.query("SELECT v FROM items WHERE id = 1")).rows[0];
      } finally {
        await client.end();
      }
    };
    const read = () => watch.load({ key: "item:1", tables: ["items"] }, query);
    await read();
    await read();
    expect(watch.stats().hits).toBe(1);

    const lost = nextEvent(watch, "lost", () => true, 20_000);
    const ready = nextEvent(watch, "ready", () => true, 30_000);
    await server.restart();
    await lost;
    expect(watch.stats().entries).toBe(0);
    await ready;
    expect(watch.stats()).toMatchObject({ losses: 1, reconnects: 1 });

    const writer = new pg.Client({ connectionString: database.url });
    await writer.connect();
    await read();
    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "change");
    await writer.query("UPDATE items SET v = 7 WHERE id = 1");
    await invalidated;
    expect(await read()).toEqual({ v: 7 });
    await writer.end();
    await watch.stop();
    await database.drop();
  }, 60_000);
});

describe("half-open listener connection (rule 2)", () => {
  it("the heartbeat notices a connection that silently stopped forwarding, and the engine steps aside until a new listener works", async () => {
    await setupSchemaIfMissing(db.url);
    const target = new URL(db.url);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    onTestFinished(() => proxy.close());
    const watch = createCacheWatch({
      connectionString: proxy.url(db.url),
      heartbeatInterval: 300,
      reconnectDelay: { initial: 50, max: 200 },
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    onTestFinished(() => pool.end());
    const read = () =>
      watch.load(
        { key: "item:1", tables: ["items"] },
        async () => (await pool.query("SELECT v FROM items WHERE id = 1")).rows[0],
      );
    await read();
    expect(watch.stats().entries).toBe(1);

    const lost = nextEvent(watch, "lost", () => true, 10_000);
    proxy.freeze(); // no FIN, no RST: only the heartbeat can tell
    const [error] = await lost;
    expect(error.message).toMatch(/heartbeat|closed|terminated|ECONNRESET|timeout/i);
    expect(watch.isServing()).toBe(false);
    expect(watch.stats().entries).toBe(0);
    const bypassed = watch.stats().bypassed;
    await read();
    expect(watch.stats().bypassed).toBe(bypassed + 1);

    const ready = nextEvent(watch, "ready", () => true, 20_000);
    proxy.thaw();
    await ready;
    expect(watch.isServing()).toBe(true);
  }, 40_000);
});

async function setupSchemaIfMissing(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query("SELECT to_regclass('public.items') AS t");
  await client.end();
  if (rows[0]?.t === null) await setupSchema(url);
}

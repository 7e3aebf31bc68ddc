import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { startTcpProxy } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { activeResources, createWorkloadSchema, listenerPids, settledHeapBytes } from "../src/index.js";
import { nextEvent, until } from "./support.js";

const db = useTestDatabase("chaos_leaks");
let admin: pg.Client;
beforeAll(async () => {
  admin = await db.externalWriter();
  await createWorkloadSchema(admin, { schema: "public", table: "items" }, 4, "pgcachewatch");
});

interface Footprint {
  timers: number;
  sockets: number;
  engineListeners: number;
  processListeners: number;
  heap: number;
}

function footprint(watch: CacheWatch): Footprint {
  const resources = activeResources();
  const sum = (emitter: NodeJS.EventEmitter) =>
    emitter.eventNames().reduce((n, name) => n + emitter.listenerCount(name), 0);
  return {
    timers: resources.Timeout ?? 0,
    sockets: resources.TCPSocketWrap ?? 0,
    engineListeners: sum(watch),
    processListeners: sum(process),
    heap: settledHeapBytes(),
  };
}

/** Wait until nothing the engine dropped is still open: timers and sockets back to the baseline. */
async function settledAt(watch: CacheWatch, base: Footprint): Promise<Footprint> {
  await until(
    () => {
      const now = activeResources();
      return (now.Timeout ?? 0) <= base.timers && (now.TCPSocketWrap ?? 0) <= base.sockets;
    },
    15_000,
    "timers and sockets back to the baseline",
  );
  return footprint(watch);
}

async function readSome(watch: CacheWatch, pool: pg.Pool): Promise<void> {
  for (let id = 1; id <= 4; id++) {
    await watch.load(
      { key: `item:${id}`, tables: ["items"] },
      async () => (await pool.query("SELECT version FROM items WHERE id = $1", [id])).rows,
    );
  }
}

describe("leaks", () => {
  it("after 100 forced reconnects: exactly one listener connection, no growth in timers, sockets, event listeners or heap", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    onTestFinished(() => pool.end());
    const watch = createCacheWatch({
      connectionString: db.url,
      heartbeatInterval: 1000,
      reconnectDelay: { initial: 10, max: 50 },
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    const killListener = async (times: number) => {
      for (let i = 0; i < times; i++) {
        const ready = nextEvent(watch, "ready");
        const pids = await listenerPids(admin);
        expect(pids).toHaveLength(1);
        await admin.query("SELECT pg_terminate_backend($1)", [pids[0]]);
        await ready;
        await readSome(watch, pool);
      }
    };
    // Warm up (lazy allocations, compiled code), then take the baseline.
    await readSome(watch, pool);
    await killListener(10);
    await until(async () => (await listenerPids(admin)).length === 1, 10_000, "one listener");
    await new Promise((r) => setTimeout(r, 1500)); // closed clients finish closing
    const base = footprint(watch);

    await killListener(100);
    await until(async () => (await listenerPids(admin)).length === 1, 10_000, "one listener");
    const after = await settledAt(watch, base);

    expect(watch.stats()).toMatchObject({ reconnects: 110, losses: 110, serving: true });
    expect(await listenerPids(admin)).toHaveLength(1);
    expect(after.timers).toBeLessThanOrEqual(base.timers);
    expect(after.sockets).toBeLessThanOrEqual(base.sockets);
    expect(after.engineListeners).toBe(base.engineListeners);
    expect(after.processListeners).toBe(base.processListeners);
    // A leaked client per reconnect (its socket, parser and buffers) would be several MB over 100.
    console.log(`heap growth over 100 reconnects: ${((after.heap - base.heap) / 1024).toFixed(0)} KiB`);
    expect(after.heap - base.heap).toBeLessThan(2 * 1024 * 1024);

    await watch.stop();
    expect(await listenerPids(admin)).toHaveLength(0);
    await until(
      () => (activeResources().TCPSocketWrap ?? 0) < base.sockets,
      10_000,
      "the listener's socket closed after stop",
    );
  }, 120_000);

  it("after half-open episodes: one listener connection, and the frozen sockets and their timers are gone", async () => {
    const target = new URL(db.url);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    onTestFinished(() => proxy.close());
    const watch = createCacheWatch({
      connectionString: proxy.url(db.url),
      heartbeatInterval: 200,
      reconnectDelay: { initial: 20, max: 100 },
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    const episode = async () => {
      const lost = nextEvent(watch, "lost", () => true, 10_000);
      proxy.freeze();
      await lost;
      const ready = nextEvent(watch, "ready", () => true, 20_000);
      proxy.thaw();
      await ready;
    };
    await episode();
    await until(async () => (await listenerPids(admin)).length === 1, 10_000, "one listener");
    await new Promise((r) => setTimeout(r, 1500));
    const base = footprint(watch);
    for (let i = 0; i < 5; i++) await episode();
    // The server notices the frozen backends' sockets closing once the proxy drops them.
    await until(async () => (await listenerPids(admin)).length === 1, 15_000, "one listener");
    const after = await settledAt(watch, base);
    expect(after.timers).toBeLessThanOrEqual(base.timers);
    expect(after.sockets).toBeLessThanOrEqual(base.sockets);
    expect(after.engineListeners).toBe(base.engineListeners);
    expect(watch.stats()).toMatchObject({ reconnects: 6, losses: 6 });
  }, 120_000);

  it("WAL source: after 30 walsender kills, one walsender, one replication slot, no growth in timers, sockets or listeners", async (ctx) => {
    const { rows } = await admin.query<{ wal_level: string }>("SHOW wal_level");
    if (rows[0]?.wal_level !== "logical") return ctx.skip("the server's wal_level is not logical");
    const watch = createCacheWatch({
      connectionString: db.url,
      source: "wal",
      wal: {
        tables: ["items"],
        publication: "pgcw_chaos_leaks",
        reconnectDelay: { initial: 10, max: 50 },
      },
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    const slots = async () =>
      (
        await admin.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = current_database()",
        )
      ).rows[0]?.n;
    const kill = async (times: number) => {
      for (let i = 0; i < times; i++) {
        const ready = nextEvent(watch, "ready", () => true, 20_000);
        const pids = await listenerPids(admin);
        expect(pids).toHaveLength(1);
        await admin.query("SELECT pg_terminate_backend($1)", [pids[0]]);
        await ready;
      }
    };
    await kill(3);
    await until(
      async () => (await listenerPids(admin)).length === 1 && (await slots()) === 1,
      10_000,
      "settled",
    );
    await new Promise((r) => setTimeout(r, 1500));
    const base = footprint(watch);
    await kill(30);
    await until(async () => (await listenerPids(admin)).length === 1, 10_000, "one walsender");
    // Temporary slots go with their connection: none may pile up (each would hold WAL back).
    await until(async () => (await slots()) === 1, 10_000, "one replication slot");
    const after = await settledAt(watch, base);
    expect(after.timers).toBeLessThanOrEqual(base.timers);
    expect(after.sockets).toBeLessThanOrEqual(base.sockets);
    expect(after.engineListeners).toBe(base.engineListeners);
    expect(after.processListeners).toBe(base.processListeners);
    expect(watch.stats()).toMatchObject({ reconnects: 33, serving: true });
    await watch.stop();
    await until(async () => (await slots()) === 0, 10_000, "no slot after stop");
    expect(await listenerPids(admin)).toHaveLength(0);
  }, 120_000);
});

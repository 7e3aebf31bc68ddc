import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { formatNotifyPayload } from "../src/adapter.js";
import { createCacheWatch, EngineStoppedError } from "../src/index.js";
import { deferred, nextEvent } from "./support/wait.js";

const db = useTestDatabase("lifecycle");

async function listenerConnections(): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgcachewatch-listener'",
  );
  await client.end();
  return rows[0]?.n ?? -1;
}

describe("engine lifecycle", () => {
  it("start and stop are idempotent; stop closes the listener connection", async () => {
    const watch = createCacheWatch({ connectionString: db.url });
    const ready = watch.ready;
    await Promise.all([watch.start(), watch.start()]);
    await ready;
    expect(watch.isServing()).toBe(true);
    expect(await listenerConnections()).toBe(1);
    await Promise.all([watch.stop(), watch.stop()]);
    await watch.stop();
    expect(watch.isServing()).toBe(false);
    expect(await listenerConnections()).toBe(0);
    await expect(watch.start()).rejects.toBeInstanceOf(EngineStoppedError);
  });

  it("stop lets in-flight loads finish", async () => {
    const watch = createCacheWatch({ connectionString: db.url });
    await watch.start();
    const gate = deferred();
    const pending = watch.load({ key: "k", tables: ["t"] }, async () => {
      await gate.promise;
      return "done";
    });
    let stopped = false;
    const stopping = watch.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    gate.resolve();
    expect(await pending).toBe("done");
    await stopping;
    expect(watch.stats().entries).toBe(0);
  });

  it("stop before the listener was ever ready rejects the ready promise with a typed error", async () => {
    const watch = createCacheWatch({
      connectionString: "postgres://nobody@127.0.0.1:1/none",
      reconnectDelay: { initial: 10, max: 20 },
    });
    void watch.start().catch(() => {});
    await watch.stop();
    await expect(watch.ready).rejects.toBeInstanceOf(EngineStoppedError);
  });

  it("emits change events with operation and measures event latency from the payload's timestamp", async () => {
    const watch = createCacheWatch({ connectionString: db.url });
    await watch.start();
    const writer = await db.externalWriter();
    const change = nextEvent(watch, "change");
    const payload = JSON.parse(formatNotifyPayload("public", "things", "update"));
    await writer.query("SELECT pg_notify('pgcachewatch', $1)", [
      JSON.stringify({ ...payload, ts: Date.now() }),
    ]);
    const [event] = await change;
    expect(event).toMatchObject({ schema: "public", table: "things", operation: "update" });
    expect(event.sentAt).toBeTypeOf("number");
    const stats = watch.stats();
    expect(stats.eventsReceived).toBe(1);
    expect(stats.lastEventLatencyMs).toBeTypeOf("number");
    expect(stats.p99EventLatencyMs).toBeTypeOf("number");
    await watch.stop();
  });
});

describe("ensureTriggers option", () => {
  it("installs missing triggers at start, so external writes invalidate", async () => {
    const writer = await db.externalWriter();
    await writer.query("CREATE TABLE ensured (id int PRIMARY KEY, v int); INSERT INTO ensured VALUES (1, 1)");
    const watch = createCacheWatch({ connectionString: db.url, ensureTriggers: ["ensured"] });
    await watch.start();
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const read = () =>
      watch.load(
        { key: "e", tables: ["ensured"] },
        async () => (await pool.query("SELECT v FROM ensured")).rows[0],
      );
    await read();
    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "change");
    await writer.query("UPDATE ensured SET v = 2");
    await invalidated;
    expect(await read()).toEqual({ v: 2 });
    await watch.stop();
    await pool.end();
  });
});

import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cachedMethod, Greedy, PGEventQueue, Timed, Windowed } from "../src/compat.js";
import { cached, createCacheWatch } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { nextEvent, until } from "./support/wait.js";

const db = useTestDatabase("cached");
let listener: PGEventQueue;
let pool: pg.Pool;
let writer: pg.Client;

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(
    "CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL); INSERT INTO kv VALUES ('a', '1'), ('b', '1')",
  );
  await writer.query("CREATE TABLE other (id int); INSERT INTO other VALUES (1)");
  await createTestTrigger(writer, "kv");
  await createTestTrigger(writer, "other");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  listener = new PGEventQueue({ connectionString: db.url });
  await listener.connect();
});

afterAll(async () => {
  await listener?.close();
  await pool?.end();
});

const readValue = async (k: string) =>
  (await pool.query<{ v: string }>("SELECT v FROM kv WHERE k = $1", [k])).rows[0]?.v;

describe("cached() with the original's strategies", () => {
  it("Greedy with a predicate on update clears on updates only (the seed's FastAPI example)", async () => {
    let calls = 0;
    const cachedQuery = cached(
      async (k: string) => {
        calls++;
        return { data: await readValue(k) };
      },
      { strategy: new Greedy({ listener, predicate: (e) => e.operation === "update" }) },
    );
    expect(await cachedQuery("a")).toEqual({ data: "1" });
    expect(await cachedQuery("a")).toEqual({ data: "1" });
    expect(calls).toBe(1);

    // An insert does not match the predicate: the entry stays.
    const insert = nextEvent(listener, "change", (e) => e.operation === "insert");
    await writer.query("INSERT INTO kv VALUES ('c', '1')");
    await insert;
    await cachedQuery("a");
    expect(calls).toBe(1);

    const update = nextEvent(listener, "change", (e) => e.operation === "update");
    await writer.query("UPDATE kv SET v = '2' WHERE k = 'a'");
    await update;
    expect(await cachedQuery("a")).toEqual({ data: "2" });
    expect(calls).toBe(2);
    cachedQuery.detach();
  });

  it("keys by argument value, not identity or key order", async () => {
    let calls = 0;
    const fn = cached(
      async (filter: { k: string; limit: number }) => {
        calls++;
        return readValue(filter.k);
      },
      { strategy: new Greedy({ listener }) },
    );
    await fn({ k: "b", limit: 1 });
    await fn({ limit: 1, k: "b" });
    expect(calls).toBe(1);
    await fn({ k: "a", limit: 1 });
    expect(calls).toBe(2);
    fn.detach();
  });

  it("Windowed clears once per window of events", async () => {
    let calls = 0;
    const fn = cached(
      async () => {
        calls++;
        return readValue("b");
      },
      { strategy: new Windowed({ listener, size: 3, maxWait: 60_000 }) },
    );
    await fn();
    for (let i = 0; i < 2; i++) {
      const seen = nextEvent(listener, "change");
      await writer.query("UPDATE other SET id = id");
      await seen;
    }
    await fn();
    expect(calls).toBe(1); // two events: window not full yet
    const third = nextEvent(listener, "change");
    await writer.query("UPDATE other SET id = id");
    await third;
    await fn();
    expect(calls).toBe(2);
    fn.detach();
  });

  it("Windowed also clears when maxWait passes after the first event", async () => {
    let calls = 0;
    const fn = cached(async () => ++calls, { strategy: new Windowed({ listener, size: 100, maxWait: 50 }) });
    await fn();
    const seen = nextEvent(listener, "change");
    await writer.query("UPDATE other SET id = id");
    await seen;
    await until(async () => (await fn()) === 2, 5000, "the window's timer to clear");
    fn.detach();
  });

  it("Timed clears at its interval without any event", async () => {
    let calls = 0;
    const fn = cached(async () => ++calls, { strategy: new Timed({ listener, interval: 30 }) });
    expect(await fn()).toBe(1);
    await until(async () => (await fn()) > 1, 5000, "the interval to clear");
    fn.detach();
  });
});

describe("cached() with tables", () => {
  it("clears when one of its tables changes, not others", async () => {
    const watch = createCacheWatch({ connectionString: db.url });
    await watch.start();
    let calls = 0;
    const fn = cached(
      async (k: string) => {
        calls++;
        return readValue(k);
      },
      { watch, tables: ["kv"] },
    );
    await fn("a");
    const other = nextEvent(watch, "change", (e) => e.table === "other");
    await writer.query("UPDATE other SET id = id");
    await other;
    await fn("a");
    expect(calls).toBe(1);
    const kv = nextEvent(watch, "change", (e) => e.table === "kv");
    await writer.query("UPDATE kv SET v = '3' WHERE k = 'a'");
    await kv;
    expect(await fn("a")).toBe("3");
    expect(calls).toBe(2);
    await watch.stop();
  });

  it("works as a method decorator, per instance", async () => {
    const watch = createCacheWatch({ source: "none" });
    await watch.start();
    class Repo {
      calls = 0;
      constructor(readonly prefix: string) {}
      @cachedMethod({ watch, tables: ["kv"] })
      async get(k: string): Promise<string> {
        this.calls++;
        return `${this.prefix}:${k}`;
      }
    }
    const a = new Repo("a");
    const b = new Repo("b");
    expect(await a.get("x")).toBe("a:x");
    expect(await a.get("x")).toBe("a:x");
    expect(await b.get("x")).toBe("b:x");
    expect([a.calls, b.calls]).toEqual([1, 1]);
    watch.invalidate({ tables: ["kv"] });
    await a.get("x");
    expect(a.calls).toBe(2);
    await watch.stop();
  });
});

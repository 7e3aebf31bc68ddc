import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type CacheWatch, createCacheWatch, ListenerNeedsSessionError } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { findPgBouncer, type PgBouncer, startPgBouncer } from "./support/pgbouncer.js";

const db = useTestDatabase("fault_pgbouncer");
const binary = findPgBouncer();
if (binary === undefined) {
  const message =
    "SKIPPED: PgBouncer tests need the pgbouncer binary (apt-get install pgbouncer; .ci/run installs it)";
  if (process.env.PGCW_REQUIRE_PGBOUNCER === "1") throw new Error(message);
  process.stderr.write(`\n[pgcw] ${message}\n\n`);
}

const ROUNDS = 20;

/**
 * Fill the cache, let an external writer change the row, give the change time to arrive, read
 * again: the count of reads that returned the old value.
 */
async function staleReadsAfterExternalUpdates(
  watch: CacheWatch,
  pool: pg.Pool,
  writer: pg.Client,
): Promise<number> {
  const read = () =>
    watch.load(
      { key: "item:1", tables: ["items"] },
      async () => (await pool.query<{ v: number }>("SELECT v FROM items WHERE id = 1")).rows[0]?.v,
    );
  let stale = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    await read();
    await writer.query("UPDATE items SET v = $1 WHERE id = 1", [round]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    if ((await read()) !== round) stale++;
  }
  return stale;
}

describe.skipIf(binary === undefined)("listener behind PgBouncer", () => {
  let bouncer: PgBouncer;
  let pool: pg.Pool;
  let writer: pg.Client;
  beforeAll(async () => {
    const setup = new pg.Client({ connectionString: db.url });
    await setup.connect();
    await setup.query(
      "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items VALUES (1, 0)",
    );
    await createTestTrigger(setup, "items");
    await setup.end();
    bouncer = await startPgBouncer(binary as string, db.url, [
      { alias: "tx", poolMode: "transaction" },
      { alias: "sess", poolMode: "session" },
    ]);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    writer = await db.externalWriter();
  });
  afterAll(async () => {
    await pool?.end();
    await bouncer?.stop();
  });

  it("transaction mode: start() rejects with ListenerNeedsSessionError and no read is stale", async () => {
    const watch = createCacheWatch({ connectionString: bouncer.url("tx"), heartbeatInterval: 1000 });
    onTestFinished(() => watch.stop());
    const outcome = await watch.start().then(
      () => "started",
      (error: unknown) => error,
    );
    const stale = await staleReadsAfterExternalUpdates(watch, pool, writer);
    expect({ stale, serving: watch.isServing() }).toEqual({ stale: 0, serving: false });
    expect(outcome).toBeInstanceOf(ListenerNeedsSessionError);
    expect((outcome as ListenerNeedsSessionError).code).toBe("LISTENER_NEEDS_SESSION");
    expect((outcome as Error).message).toMatch(
      /the listener needs a session: point it at PostgreSQL directly or at a session-mode pooler/,
    );
  });

  it("session mode: the probe passes, events arrive, nothing is stale", async () => {
    const watch = createCacheWatch({ connectionString: bouncer.url("sess"), heartbeatInterval: 1000 });
    onTestFinished(() => watch.stop());
    await watch.start();
    expect(watch.isServing()).toBe(true);
    const stale = await staleReadsAfterExternalUpdates(watch, pool, writer);
    expect(stale).toBe(0);
    expect(watch.stats().hits).toBeGreaterThan(0);
    expect(watch.stats().eventsReceived).toBeGreaterThanOrEqual(ROUNDS);
  });
});

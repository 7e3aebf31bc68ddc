import { randomBytes } from "node:crypto";
import { until } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { sealPayload } from "../src/adapter.js";
import { type CacheWatch, createCacheWatch, EventSecretMismatchError } from "../src/index.js";
import { installTriggers, readEventSecret } from "../src/triggers/index.js";
import { recordNotifications } from "./support/notifications.js";

const db = useTestDatabase("fault_forged");

const FORGED = 300;
const REPLAYS = 50;

describe("forged notifications", () => {
  let admin: pg.Client;
  let pool: pg.Pool;
  let secret: string;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(
      "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items VALUES (1, 0)",
    );
    await installTriggers(admin, { tables: ["items"] });
    secret = await readEventSecret(admin);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await admin.end();
  });

  const read = (watch: CacheWatch) =>
    watch.load(
      { key: "item:1", tables: ["items"] },
      async () => (await pool.query<{ v: number }>("SELECT v FROM items WHERE id = 1")).rows[0]?.v,
    );

  it("the secret is 64 hex digits, readable by the installing role only", async () => {
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const role = `pgcw_reader_${randomBytes(4).toString("hex")}`;
    const password = randomBytes(12).toString("hex");
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    onTestFinished(async () => {
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    });
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    const other = new pg.Client({ connectionString: url.toString() });
    await other.connect();
    onTestFinished(() => other.end());
    await expect(other.query("SELECT secret FROM pgcachewatch.event_secret")).rejects.toThrow(
      /permission denied/,
    );
    // It may still see that the install signs (probe_signature) without learning the secret.
    const { rows } = await other.query<{ s: string }>(
      "SELECT pgcachewatch.probe_signature('00112233445566778899') AS s",
    );
    expect(rows[0]?.s).toMatch(/^[0-9a-f]{64}$/);
  });

  it("with eventSecret, a flood of forged and replayed notifications is dropped and counted; real changes still invalidate", async () => {
    const signed = createCacheWatch({ connectionString: db.url, eventSecret: secret });
    const trusting = createCacheWatch({ connectionString: db.url });
    onTestFinished(() => signed.stop());
    onTestFinished(() => trusting.stop());
    await Promise.all([signed.start(), trusting.start()]);

    // Capture a real signed notification, as any role that can LISTEN can.
    const recorder = await recordNotifications(db.url, "pgcachewatch");
    onTestFinished(() => recorder.close());
    const writer = await db.externalWriter();
    await writer.query("UPDATE items SET v = 1 WHERE id = 1");
    const [captured] = await recorder.drain(writer);
    expect(captured).toMatch(/^s1:\d+:[0-9a-f]{64}:\{"v":[12],/);
    await until(() => signed.stats().eventsReceived === 1 && trusting.stats().eventsReceived === 1);

    for (const watch of [signed, trusting]) {
      expect(await read(watch)).toBe(1);
      expect(await read(watch)).toBe(1);
    }
    const before = { signed: signed.stats(), trusting: trusting.stats() };

    const forger = await db.externalWriter();
    for (let i = 0; i < FORGED; i++) {
      // Distinct payloads (ts), each its own transaction: nothing folds.
      await forger.query("SELECT pg_notify('pgcachewatch', $1)", [
        JSON.stringify({ v: 1, s: "public", t: "items", op: "update", ts: i === 0 ? 0 : Date.now() + i }),
      ]);
    }
    await forger.query("SELECT pg_notify('pgcachewatch', $1)", [
      sealPayload("not-the-secret", "123", '{"v":1,"s":"public","t":"items","op":"update"}'),
    ]);
    for (let i = 0; i < REPLAYS; i++) await forger.query("SELECT pg_notify('pgcachewatch', $1)", [captured]);
    const sent = FORGED + 1 + REPLAYS;
    await until(
      () => trusting.stats().eventsReceived - before.trusting.eventsReceived === sent,
      20_000,
      "the flood",
    );
    // The recorder's drain() sentinel was an unsigned notification on the channel too.
    const dropped = sent + 1;
    await until(() => signed.stats().forgedEvents === dropped, 20_000, "the forged count");

    // Hit ratio of the next reads: unchanged with the secret.
    for (let i = 0; i < 20; i++) expect(await read(signed)).toBe(1);
    const after = signed.stats();
    expect(after.forgedEvents).toBe(dropped);
    expect(after.malformedEvents - before.signed.malformedEvents).toBe(sent);
    expect(after.eventsReceived).toBe(before.signed.eventsReceived);
    expect(after.loads).toBe(before.signed.loads);
    expect(after.hits - before.signed.hits).toBe(20);

    // Without the secret, as before: every forged notification is a change.
    expect(trusting.stats().forgedEvents).toBe(0);
    expect(trusting.stats().eventsReceived - before.trusting.eventsReceived).toBe(sent);
    // The `ts: 0` one is not counted as a 56-year latency.
    expect(trusting.stats().p99EventLatencyMs ?? 0).toBeLessThan(60 * 60_000);

    // A real change still reaches the signed engine.
    await writer.query("UPDATE items SET v = 2 WHERE id = 1");
    await until(() => signed.stats().eventsReceived === before.signed.eventsReceived + 1);
    expect(await read(signed)).toBe(2);
  });

  it("an implausible sender timestamp is left out of the latency stats", async () => {
    const watch = createCacheWatch({ connectionString: db.url });
    onTestFinished(() => watch.stop());
    await watch.start();
    const forger = await db.externalWriter();
    for (const ts of [0, Date.now() + 24 * 60 * 60_000]) {
      await forger.query("SELECT pg_notify('pgcachewatch', $1)", [
        JSON.stringify({ v: 1, s: "public", t: "items", op: "update", ts }),
      ]);
    }
    await until(() => watch.stats().eventsReceived === 2);
    expect(watch.stats().lastEventLatencyMs).toBeUndefined();
    expect(watch.stats().p99EventLatencyMs).toBeUndefined();
  });

  it("a wrong eventSecret makes start() reject instead of dropping every change", async () => {
    const watch = createCacheWatch({ connectionString: db.url, eventSecret: "f".repeat(64) });
    onTestFinished(() => watch.stop());
    const error = await watch.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EventSecretMismatchError);
    expect((error as EventSecretMismatchError).code).toBe("EVENT_SECRET_MISMATCH");
    expect((error as Error).message).not.toContain(secret);
  });
});

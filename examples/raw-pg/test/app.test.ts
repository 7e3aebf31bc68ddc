import type { CacheWatch, InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildApp } from "../src/app.js";
import { setupDatabase } from "../src/setup.js";

const db = useTestDatabase("example_raw_pg");
let app: FastifyInstance;
let watch: CacheWatch;
let baseUrl: string;

beforeAll(async () => {
  await setupDatabase(db.url);
  ({ app, watch } = buildApp({ databaseUrl: db.url }));
  baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await app?.close();
});

async function getUser(id: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/data?user_id=${id}`);
  return { status: response.status, body: await response.json() };
}

function nextInvalidation(timeoutMs = 5000): Promise<InvalidateInfo> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      watch.off("invalidate", onInvalidate);
      reject(new Error(`no invalidation within ${timeoutMs} ms`));
    }, timeoutMs);
    const onInvalidate = (info: InvalidateInfo) => {
      if (info.entries === 0) return;
      clearTimeout(timer);
      watch.off("invalidate", onInvalidate);
      resolve(info);
    };
    watch.on("invalidate", onInvalidate);
  });
}

function nextChange(operation: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      watch.off("change", onChange);
      reject(new Error(`no ${operation} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const onChange = (event: { operation: string }) => {
      if (event.operation !== operation) return;
      clearTimeout(timer);
      watch.off("change", onChange);
      resolve();
    };
    watch.on("change", onChange);
  });
}

test("GET /data serves from the cache and returns fresh data after another client updates the row", async () => {
  const first = await getUser(1);
  expect(first).toEqual({ status: 200, body: { id: 1, name: "Ada Lovelace", email: "ada@example.com" } });
  const hitsBefore = watch.stats().hits;
  expect(await getUser(1)).toEqual(first);
  expect(watch.stats().hits).toBe(hitsBefore + 1);

  const writer = await db.externalWriter();
  const invalidated = nextInvalidation();
  await writer.query("UPDATE users SET name = 'Ada King' WHERE id = 1");
  await invalidated;

  expect(await getUser(1)).toEqual({
    status: 200,
    body: { id: 1, name: "Ada King", email: "ada@example.com" },
  });
});

test("the Greedy predicate ignores inserts, as in the original example", async () => {
  await getUser(2);
  const writer = await db.externalWriter();
  // The insert arrives as a change event but is not an update: the cached user stays.
  const insertSeen = nextChange("insert");
  await writer.query(
    "INSERT INTO users (id, name, email) VALUES (4, 'Barbara Liskov', 'barbara@example.com')",
  );
  await insertSeen;
  const hitsBefore = watch.stats().hits;
  expect((await getUser(2)).body).toMatchObject({ name: "Grace Hopper" });
  expect(watch.stats().hits).toBe(hitsBefore + 1);

  // An update (of any row) clears the function's entries.
  const invalidated = nextInvalidation();
  await writer.query("UPDATE users SET name = 'Grace B. Hopper' WHERE id = 2");
  expect((await invalidated).reason).toBe("strategy");
  expect((await getUser(2)).body).toMatchObject({ name: "Grace B. Hopper" });
  expect((await getUser(4)).body).toMatchObject({ name: "Barbara Liskov" });
});

test("an unknown user is a 404 and a missing parameter a 400", async () => {
  expect((await getUser(999)).status).toBe(404);
  expect((await fetch(`${baseUrl}/data`)).status).toBe(400);
});

test("closing the app closes its listener connection", async () => {
  const writer = await db.externalWriter();
  const listeners = async () =>
    (
      await writer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'pgcachewatch-listener'`,
      )
    ).rows[0]!.n;
  const before = await listeners();
  const { app: other, watch: otherWatch } = buildApp({ databaseUrl: db.url });
  await other.ready();
  expect(otherWatch.isServing()).toBe(true);
  expect(await listeners()).toBe(before + 1);
  await other.close();
  expect(otherWatch.isServing()).toBe(false);
  // The server removes a closed session from pg_stat_activity a moment after the socket closes.
  await expect.poll(listeners, { timeout: 5000 }).toBe(before);
});

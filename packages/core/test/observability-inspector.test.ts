import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryKey } from "../src/adapter.js";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import {
  createInspector,
  type InspectorHandler,
  type InspectorSnapshot,
} from "../src/observability/index.js";
import { installTriggers } from "../src/triggers/index.js";
import { nextEvent, until } from "./support/wait.js";

const db = useTestDatabase("observability_inspector");
let watch: CacheWatch;
let pool: pg.Pool;
let writer: pg.Client;
let inspector: InspectorHandler;
let server: Server;
let base: string;

const SQL = "SELECT id, name FROM users WHERE id = $1";

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO users VALUES (1, 'ada'), (2, 'grace');
  `);
  await installTriggers(writer, { tables: ["users"] });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000 });
  inspector = createInspector(watch, { title: "Users <app>", sampleInterval: 100 });
  server = createServer((request, response) => {
    if (request.url?.startsWith("/admin/cache")) inspector(request, response);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/cache`;
  await watch.start();
});

afterAll(async () => {
  inspector?.close();
  await new Promise((resolve) => server?.close(resolve));
  await watch?.stop();
  await pool?.end();
});

const readUser = (id: number) =>
  watch.load({ key: queryKey(["raw", SQL], [id]), name: SQL, tables: ["users"] }, async () => {
    const { rows } = await pool.query(SQL, [id]);
    return rows[0];
  });

async function snapshot(): Promise<InspectorSnapshot> {
  const response = await fetch(`${base}?data`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("application/json");
  return (await response.json()) as InspectorSnapshot;
}

describe("the inspector handler", () => {
  it("serves one self-contained page: no external resource, a CSP that allows only its own script", async () => {
    const response = await fetch(base);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("default-src 'none'");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const html = await response.text();
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(html).toContain("Users &#60;app&#62;");
    for (const id of [
      "kpi-hits",
      "chart-ratio",
      "chart-invalidations",
      "chart-latency",
      "chart-tables",
      "chart-source",
      "queries",
    ]) {
      expect(html).toContain(`id="${id}"`);
    }
  });

  it("answers only GET and HEAD", async () => {
    const response = await fetch(base, { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(`${base}?data`, { method: "HEAD" });
    expect(head.status).toBe(200);
  });

  it("reports a miss, a hit, the entry per table, then an external write's invalidation and latency", async () => {
    await readUser(1);
    await readUser(1);
    const before = await snapshot();
    expect(before.state).toBe("serving");
    expect(before.source).toMatchObject({ kind: "notify", reconnects: 0, losses: 0 });
    expect(before.stats).toMatchObject({ hits: 1, misses: 1, loads: 1, entries: 1 });
    expect(before.queries[0]).toMatchObject({
      shape: SQL,
      hits: 1,
      misses: 1,
      loads: 1,
      stored: 1,
      tables: ["public.users"],
    });
    expect(before.tables).toEqual([
      expect.objectContaining({
        table: "public.users",
        entries: 1,
        bytes: expect.any(Number),
        invalidations: 0,
      }),
    ]);
    expect(before.tables[0]?.bytes).toBeGreaterThan(0);
    expect(JSON.stringify(before)).not.toContain('"1"'); // parameter values never leave the process

    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "change");
    await writer.query("UPDATE users SET name = 'ada lovelace' WHERE id = 1");
    await invalidated;
    const after = await snapshot();
    expect(after.stats.eventsReceived).toBe(1);
    expect(after.tables[0]).toMatchObject({
      table: "public.users",
      entries: 0,
      invalidations: 1,
      byReason: { change: 1 },
      entriesDropped: 1,
      events: 1,
    });
    expect(after.queries[0]).toMatchObject({ invalidated: 1 });
    expect(after.eventLatency.count).toBe(1);
    expect(after.eventLatency.buckets.reduce((n, b) => n + b.count, 0)).toBe(1);
    expect(after.eventLatency.buckets.at(-1)?.le).toBeNull();
    // The counters are sampled for the charts (every 100 ms here): the write shows up in the series.
    await until(async () => (await snapshot()).series.at(-1)?.eventsReceived === 1);
    const { series } = await snapshot();
    expect(series.length).toBeGreaterThanOrEqual(2);
    expect(series[0]).toMatchObject({ hits: 0, misses: 0, eventsReceived: 0 });
    expect(series.at(-1)).toMatchObject({ hits: 1, misses: 1, eventsReceived: 1, serving: true });
  });
});

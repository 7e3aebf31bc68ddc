import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cached, createCacheWatch } from "@pgcachewatch/core";
import autocannon from "autocannon";
import pg from "pg";
import { createItems, ITEMS_BY_CATEGORY } from "../dataset.js";
import { connect, installStatementTriggers } from "../environment.js";
import { int, ms, ratio } from "../format.js";
import { type SectionResult, section } from "../result.js";
import type { ScenarioContext } from "./context.js";

const CONNECTIONS = 16;
const CATEGORIES = 20;

/**
 * Scenario 2: a JSON endpoint over the items query, cached with cached() and uncached, under
 * autocannon (in a worker thread, so the load generator does not share the server's event loop).
 */
export async function runHttp(context: ScenarioContext): Promise<SectionResult> {
  const seconds = context.quick ? 2 : 10;
  const result = section(
    "http",
    "HTTP endpoint",
    `GET /items?category=N (10 rows as JSON) on node:http, ${CONNECTIONS} keep-alive connections, ` +
      `${CATEGORIES} categories in rotation, ${seconds}s per variant, autocannon in a worker thread on loopback.`,
  );
  const setup = await connect(context.url);
  await createItems(setup);
  await installStatementTriggers(setup, ["items"]);
  await setup.end();

  const pool = new pg.Pool({ connectionString: context.url, max: 10 });
  const watch = createCacheWatch({ connectionString: context.url });
  await watch.start();
  const query = async (category: number) => (await pool.query(ITEMS_BY_CATEGORY, [category])).rows;
  const cachedQuery = cached(query, { watch, tables: ["items"], name: "httpItems" });
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://bench");
    const category = Number(url.searchParams.get("category") ?? 0);
    const load = url.pathname === "/cached/items" ? cachedQuery : query;
    load(category).then(
      (rows) => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify(rows));
      },
      (error: unknown) => {
        response.writeHead(500);
        response.end(String(error));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const runs: { variant: string; rps: number; p50: number; p99: number; errors: number }[] = [];
  try {
    for (const variant of ["uncached", "cached"] as const) {
      context.log(`http: ${variant}`);
      const prefix = variant === "cached" ? "/cached/items" : "/items";
      const measured = await autocannon({
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        duration: seconds,
        workers: 1,
        requests: Array.from({ length: CATEGORIES }, (_, c) => ({
          method: "GET" as const,
          path: `${prefix}?category=${c}`,
        })),
      });
      runs.push({
        variant,
        rps: measured.requests.average,
        p50: measured.latency.p50,
        p99: measured.latency.p99,
        errors: measured.errors + measured.non2xx,
      });
    }
  } finally {
    await closeServer(server);
    await watch.stop();
    await pool.end();
  }
  const uncached = runs.find((r) => r.variant === "uncached");
  result.tables.push({
    title: "Requests per second and latency",
    columns: ["variant", "req/s", "p50", "p99", "errors", "req/s vs uncached"],
    rows: runs.map((r) => [
      r.variant,
      int(r.rps),
      ms(r.p50),
      ms(r.p99),
      int(r.errors),
      uncached ? ratio(r.rps / uncached.rps) : "",
    ]),
  });
  result.charts.push({
    title: "HTTP requests/s",
    unit: "req/s",
    log: false,
    series: ["req/s"],
    groups: runs.map((r) => ({ label: r.variant, values: [r.rps] })),
  });
  result.notes.push("Server, load generator and PostgreSQL share the same cores.");
  return result;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CacheWatch, cached, createCacheWatch } from "@pgcachewatch/core";
import autocannon from "autocannon";
import pg from "pg";
import { createItems, ITEMS_BY_CATEGORY } from "../dataset.js";
import { connect, installStatementTriggers } from "../environment.js";
import { EXAMPLE_APPS, EXAMPLE_ROWS, seedExampleTables } from "../example-apps.js";
import { int, ms, ratio } from "../format.js";
import { type SectionResult, section } from "../result.js";
import type { ScenarioContext } from "./context.js";

const CONNECTIONS = 16;
/** Distinct categories the node:http endpoint is requested with, in rotation. */
const CATEGORIES = 20;

type Variant = "uncached" | "cached";

interface Run {
  app: string;
  endpoint: string;
  variant: Variant;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Share of the measured requests' cache lookups that were hits (undefined: no lookups). */
  hitRatio: number | undefined;
}

/** A server under test: where it listens, the engine behind it, how to stop it. */
interface Target {
  baseUrl: string;
  watch: CacheWatch;
  close(): Promise<void>;
}

/**
 * Scenario 2: the example apps' endpoints (Fastify + Drizzle, Kysely, Prisma from examples/),
 * started with `cache: false` and with the cache, then a bare node:http endpoint over one pg query
 * with and without cached(). Load from autocannon in a worker thread, so the load generator does
 * not share the server's event loop.
 */
export async function runHttp(context: ScenarioContext): Promise<SectionResult> {
  const seconds = context.quick ? 2 : 10;
  // Distinct ids (posts, users) each example endpoint is requested with, in rotation.
  const exampleIds = context.quick ? 100 : 500;
  const result = section(
    "http",
    "HTTP endpoint",
    `The example apps (examples/drizzle, kysely, prisma; Fastify) built with cache: false and with the cache, ` +
      `each endpoint requested with ${exampleIds} ids in rotation over tables of ${int(EXAMPLE_ROWS.users)} users, ` +
      `${int(EXAMPLE_ROWS.posts)} posts and ${int(EXAMPLE_ROWS.comments)} comments; then GET /items?category=N ` +
      `(10 rows) on bare node:http with and without cached(), ${CATEGORIES} categories in rotation. ` +
      `${CONNECTIONS} keep-alive connections, ${seconds}s per variant after one unmeasured request per id, ` +
      "autocannon in a worker thread on loopback. Nothing is written during a run: the cached rows are the hit path.",
  );
  const runs: Run[] = [];

  for (const example of EXAMPLE_APPS) await example.setup(context.url);
  const setup = await connect(context.url);
  try {
    await seedExampleTables(setup);
    await createItems(setup);
    await installStatementTriggers(setup, ["items"]);
  } finally {
    await setup.end();
  }
  const ids = Array.from({ length: exampleIds }, (_, i) => i + 1);
  for (const example of EXAMPLE_APPS) {
    const paths = ids.map((id) => example.path(id));
    for (const variant of ["uncached", "cached"] as const) {
      context.log(`http: ${example.name}, ${variant}`);
      const target = await example.start(context.url, variant === "cached");
      try {
        runs.push({
          app: example.name,
          endpoint: example.endpoint,
          variant,
          ...(await load(target, paths, seconds)),
        });
      } finally {
        await target.close();
      }
    }
  }

  for (const variant of ["uncached", "cached"] as const) {
    context.log(`http: node:http + cached(), ${variant}`);
    const paths = Array.from({ length: CATEGORIES }, (_, c) => `/items?category=${c}`);
    const target = await startItemsServer(context.url, variant === "cached");
    try {
      runs.push({
        app: "node:http + cached()",
        endpoint: "GET /items?category=N (10 rows)",
        variant,
        ...(await load(target, paths, seconds)),
      });
    } finally {
      await target.close();
    }
  }

  const uncachedOf = (run: Run) => runs.find((r) => r.app === run.app && r.variant === "uncached");
  result.tables.push({
    title: "Requests per second and latency, uncached vs cached",
    columns: [
      "app",
      "variant",
      "req/s",
      "p50",
      "p99",
      "errors",
      "cache hits",
      "req/s cached/uncached",
      "p99 cached/uncached",
    ],
    rows: runs.map((r) => {
      const uncached = uncachedOf(r);
      const compared = r.variant === "cached" && uncached !== undefined;
      return [
        r.app,
        r.variant,
        int(r.rps),
        ms(r.p50),
        ms(r.p99),
        int(r.errors),
        r.hitRatio === undefined ? "-" : `${(r.hitRatio * 100).toFixed(1)}%`,
        compared ? ratio(r.rps / uncached.rps) : "",
        compared ? ratio(r.p99 / uncached.p99) : "",
      ];
    }),
  });
  result.tables.push({
    title: "Endpoints",
    columns: ["app", "endpoint"],
    rows: runs.filter((r) => r.variant === "uncached").map((r) => [r.app, r.endpoint]),
  });
  const apps = [...new Set(runs.map((r) => r.app))];
  const value = (app: string, variant: Variant, pick: (r: Run) => number) => {
    const run = runs.find((r) => r.app === app && r.variant === variant);
    return run ? pick(run) : undefined;
  };
  result.charts.push({
    title: "HTTP requests/s, uncached vs cached",
    unit: "req/s",
    log: false,
    series: ["uncached", "cached"],
    groups: apps.map((app) => ({
      label: app,
      values: [value(app, "uncached", (r) => r.rps), value(app, "cached", (r) => r.rps)],
    })),
  });
  result.charts.push({
    title: "HTTP p99 latency, uncached vs cached",
    unit: "ms",
    log: true,
    series: ["uncached", "cached"],
    groups: apps.map((app) => ({
      label: app,
      values: [
        value(app, "uncached", (r) => Math.max(r.p99, 0.001)),
        value(app, "cached", (r) => Math.max(r.p99, 0.001)),
      ],
    })),
  });
  result.notes.push(
    "Server, load generator and PostgreSQL share the same cores; the uncached rows pay a pool " +
      "connection and a round trip to PostgreSQL per request, the cached rows a lookup in the process.",
  );
  result.notes.push(
    "autocannon records latency in whole milliseconds. cache hits: the share of the measured requests' " +
      "cache lookups that hit (- where the app made none, as with cache: false).",
  );
  return result;
}

/**
 * One request per path (not measured: it fills the cache and warms the code paths), then
 * autocannon for `seconds` cycling through the paths on every connection.
 */
async function load(
  target: Target,
  paths: readonly string[],
  seconds: number,
): Promise<Omit<Run, "app" | "endpoint" | "variant">> {
  let next = 0;
  const warmUp = async () => {
    for (let path = paths[next++]; path !== undefined; path = paths[next++]) {
      const response = await fetch(`${target.baseUrl}${path}`);
      if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, warmUp));
  const before = target.watch.stats();
  const measured = await autocannon({
    url: target.baseUrl,
    connections: CONNECTIONS,
    duration: seconds,
    workers: 1,
    requests: paths.map((path) => ({ method: "GET" as const, path })),
  });
  const after = target.watch.stats();
  const hits = after.hits - before.hits;
  const lookups = hits + after.misses - before.misses;
  return {
    rps: measured.requests.average,
    p50: measured.latency.p50,
    p99: measured.latency.p99,
    errors: measured.errors + measured.non2xx,
    hitRatio: lookups > 0 ? hits / lookups : undefined,
  };
}

/** GET /items?category=N on bare node:http: the items query through cached(), or straight to pg. */
async function startItemsServer(url: string, useCache: boolean): Promise<Target> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const watch = createCacheWatch({ connectionString: url });
  await watch.start();
  const query = async (category: number) => (await pool.query(ITEMS_BY_CATEGORY, [category])).rows;
  const read = useCache ? cached(query, { watch, tables: ["items"], name: "httpItems" }) : query;
  const server = createServer((request, response) => {
    const category = Number(new URL(request.url ?? "/", "http://bench").searchParams.get("category") ?? 0);
    read(category).then(
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
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    watch,
    async close() {
      await closeServer(server);
      await watch.stop();
      await pool.end();
    },
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

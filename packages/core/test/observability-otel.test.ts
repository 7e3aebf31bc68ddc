import { context, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  StackContextManager,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryKey } from "../src/adapter.js";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import {
  CacheObserverBase,
  INSTRUMENTS,
  instrumentOpenTelemetry,
  LOAD_SPAN,
  type OpenTelemetryInstrumentation,
} from "../src/observability/index.js";
import { installTriggers } from "../src/triggers/index.js";
import { nextEvent, until } from "./support/wait.js";

const db = useTestDatabase("observability_otel");
let watch: CacheWatch;
let pool: pg.Pool;
let writer: pg.Client;
let metricExporter: InMemoryMetricExporter;
let meterProvider: MeterProvider;
let spanExporter: InMemorySpanExporter;
let instrumentation: OpenTelemetryInstrumentation;
/** The span that was active inside the last loader run. */
let activeInLoader: string | undefined;

const ITEMS_SQL = "SELECT id, name FROM items ORDER BY id";

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO items VALUES (1, 'one'), (2, 'two');
  `);
  await installTriggers(writer, { tables: ["items"] });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  context.setGlobalContextManager(new StackContextManager().enable());
  metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 }),
    ],
  });
  spanExporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
  });
  watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000 });
  instrumentation = await instrumentOpenTelemetry(watch, { meterProvider, tracerProvider });
  await watch.start();
});

afterAll(async () => {
  await instrumentation?.shutdown();
  await watch?.stop();
  await pool?.end();
  await meterProvider?.shutdown();
});

/** A read as an adapter makes it: a key from the SQL and its parameters, the SQL as its name. */
const readItems = () =>
  watch.load({ key: queryKey(["test", ITEMS_SQL], []), name: ITEMS_SQL, tables: ["items"] }, async () => {
    activeInLoader = trace.getActiveSpan()?.spanContext().spanId;
    return (await pool.query(ITEMS_SQL)).rows;
  });

/** Collect now; every data point of `name` with its attributes. */
async function collect(): Promise<
  (name: string, attributes?: Record<string, unknown>) => DataPoint<unknown>[]
> {
  metricExporter.reset();
  await meterProvider.forceFlush();
  const exported = metricExporter.getMetrics().at(-1);
  const metrics = exported?.scopeMetrics.flatMap((s) => s.metrics) ?? [];
  return (name, attributes = {}) =>
    metrics
      .filter((m) => m.descriptor.name === name)
      .flatMap((m) => m.dataPoints as DataPoint<unknown>[])
      .filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
}

function sum(points: DataPoint<unknown>[]): number {
  return points.reduce((total, p) => total + (p.value as number), 0);
}

function histogramSum(points: DataPoint<unknown>[]): number {
  return points.reduce((total, p) => total + ((p.value as Histogram).sum ?? 0), 0);
}

function histogramCount(points: DataPoint<unknown>[]): number {
  return points.reduce((total, p) => total + (p.value as Histogram).count, 0);
}

describe("OpenTelemetry instruments during a miss, a hit and an external write", () => {
  it("a miss: one miss, one load with its duration and a span naming the table; the entry in the gauges", async () => {
    expect(await readItems()).toEqual([
      { id: 1, name: "one" },
      { id: 2, name: "two" },
    ]);
    const points = await collect();
    expect(sum(points(INSTRUMENTS.misses.name, { "pgcachewatch.joined": false }))).toBe(1);
    expect(sum(points(INSTRUMENTS.hits.name))).toBe(0);
    expect(sum(points(INSTRUMENTS.loads.name))).toBe(1);
    expect(histogramCount(points(INSTRUMENTS.loadDuration.name, { "pgcachewatch.outcome": "stored" }))).toBe(
      1,
    );
    const seconds = histogramSum(points(INSTRUMENTS.loadDuration.name));
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(5);
    expect(sum(points(INSTRUMENTS.entries.name))).toBe(1);
    expect(sum(points(INSTRUMENTS.bytes.name))).toBeGreaterThan(100);
    expect(sum(points(INSTRUMENTS.sourceState.name, { "pgcachewatch.state": "serving" }))).toBe(1);
    expect(sum(points(INSTRUMENTS.sourceState.name, { "pgcachewatch.state": "lost" }))).toBe(0);
    expect(points(INSTRUMENTS.sourceState.name)[0]?.attributes["pgcachewatch.source.kind"]).toBe("notify");
    // The cluster's NOTIFY queue, as the listener's heartbeat read it.
    await until(() => watch.stats().notifyQueueUsage !== undefined);
    const [queue] = (await collect())(INSTRUMENTS.notifyQueueUsage.name);
    expect(queue?.value).toBeGreaterThanOrEqual(0);
    expect(queue?.value).toBeLessThan(0.01);

    const spans = spanExporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    const [span] = spans;
    expect(span?.name).toBe(LOAD_SPAN.name);
    expect(span?.attributes).toMatchObject({
      "db.system.name": "postgresql",
      "db.collection.name": "public.items",
      "pgcachewatch.tables": ["public.items"],
      "pgcachewatch.outcome": "stored",
    });
    // The loader ran with the load's span active (a pg instrumentation's spans become its children).
    expect(activeInLoader).toBe(span?.spanContext().spanId);
  });

  it("a hit: one hit, no new load, no new span", async () => {
    await readItems();
    const points = await collect();
    expect(sum(points(INSTRUMENTS.hits.name, { "pgcachewatch.adapter": "other" }))).toBe(1);
    expect(sum(points(INSTRUMENTS.misses.name))).toBe(1);
    expect(sum(points(INSTRUMENTS.loads.name))).toBe(1);
    expect(spanExporter.getFinishedSpans()).toHaveLength(1);
  });

  it("an external write: an event for the table, its latency, an invalidation of it, the entry gone", async () => {
    const invalidated = nextEvent(watch, "invalidate", (info) => info.reason === "change");
    await writer.query("INSERT INTO items VALUES (3, 'three')");
    const [info] = await invalidated;
    expect(info.entries).toBe(1);
    const points = await collect();
    expect(
      sum(
        points(INSTRUMENTS.events.name, {
          "db.collection.name": "public.items",
          "db.operation.name": "INSERT",
          "pgcachewatch.source.kind": "notify",
        }),
      ),
    ).toBe(1);
    expect(
      sum(
        points(INSTRUMENTS.invalidations.name, {
          "pgcachewatch.reason": "change",
          "db.collection.name": "public.items",
        }),
      ),
    ).toBe(1);
    expect(sum(points(INSTRUMENTS.entriesInvalidated.name, { "pgcachewatch.reason": "change" }))).toBe(1);
    // The payload carries a server timestamp (for NOTIFY: the transaction's start): seconds, below a few.
    const latency = points(INSTRUMENTS.eventLatency.name, { "db.collection.name": "public.items" });
    expect(histogramCount(latency)).toBe(1);
    expect(histogramSum(latency)).toBeLessThan(5);
    expect(sum(points(INSTRUMENTS.entries.name))).toBe(0);

    // The next read misses and sees the write.
    expect(await readItems()).toHaveLength(3);
    const after = await collect();
    expect(sum(after(INSTRUMENTS.misses.name))).toBe(2);
    expect(sum(after(INSTRUMENTS.loads.name))).toBe(2);
    expect(spanExporter.getFinishedSpans()).toHaveLength(2);
  });

  it("a lost listener: one loss, one reconnect, the state gauge back to serving", async () => {
    const pid = (watch.source as unknown as { backendPid?: number }).backendPid;
    expect(pid).toBeGreaterThan(0);
    const back = nextEvent(watch, "ready");
    await writer.query("SELECT pg_terminate_backend($1)", [pid]);
    await back;
    const points = await collect();
    expect(sum(points(INSTRUMENTS.losses.name, { "pgcachewatch.source.kind": "notify" }))).toBe(1);
    expect(sum(points(INSTRUMENTS.reconnects.name, { "pgcachewatch.source.kind": "notify" }))).toBe(1);
    expect(sum(points(INSTRUMENTS.invalidations.name, { "pgcachewatch.reason": "listener-lost" }))).toBe(1);
    expect(sum(points(INSTRUMENTS.sourceState.name, { "pgcachewatch.state": "serving" }))).toBe(1);
  });

  it("callers that join a load in flight count as misses with joined=true; a read in a transaction as bypassed", async () => {
    const bypassedBefore = sum((await collect())(INSTRUMENTS.bypassed.name));
    watch.invalidate({ tables: ["items"] });
    await Promise.all([readItems(), readItems(), readItems()]);
    await watch.load({ key: "in-tx", inTransaction: true }, async () => 1);
    const points = await collect();
    expect(sum(points(INSTRUMENTS.misses.name, { "pgcachewatch.joined": true }))).toBe(2);
    expect(sum(points(INSTRUMENTS.loads.name))).toBe(3);
    expect(sum(points(INSTRUMENTS.bypassed.name, { "pgcachewatch.reason": "transaction" }))).toBe(
      bypassedBefore + 1,
    );
    expect(sum(points(INSTRUMENTS.invalidations.name, { "pgcachewatch.reason": "manual" }))).toBe(1);
  });

  it("a row-level load (the analyzer reads its statement): the span names its table, never the row's value", async () => {
    const sql = "SELECT id, name FROM items WHERE id = $1";
    const before = spanExporter.getFinishedSpans().length;
    let lastTags: readonly string[] = [];
    const detach = watch.addObserver(
      new (class extends CacheObserverBase {
        override loadStart() {
          return {
            run: <T>(f: () => T) => f(),
            end: (r: { tags: readonly string[] }) => {
              lastTags = r.tags;
            },
          };
        }
      })(),
    );
    const row = await watch.load({ key: queryKey(["test", sql], [2]), name: sql }, () =>
      watch.runStatement({ sql, params: [2] }, async () => (await pool.query(sql, [2])).rows),
    );
    expect(row).toEqual([{ id: 2, name: "two" }]);
    const spans = spanExporter.getFinishedSpans().slice(before);
    expect(spans).toHaveLength(1);
    expect(spans[0]?.attributes).toMatchObject({
      "pgcachewatch.outcome": "stored",
      "pgcachewatch.tables": ["public.items"],
      "db.collection.name": "public.items",
    });
    // No attribute carries the parameter.
    expect(JSON.stringify(spans[0]?.attributes)).not.toMatch(/\b2\b/);
    detach();
    // Row-level: the entry carries the any-row tag of its table and the row's key value...
    expect(lastTags).toEqual([
      "a\u0000public\u0000items",
      "c\u0000public\u0000items\u0000id",
      "r\u0000public\u0000items\u0000id\u00002",
    ]);
    // ...and counts once under its table, next to the whole-table entry of readItems().
    expect(watch.stats().entries).toBe(2);
    const [usage, ...others] = watch.tableUsage();
    expect(others).toEqual([]);
    expect(usage).toMatchObject({ table: "public.items", entries: 2 });
    expect(usage?.bytes).toBeGreaterThan(0);
    expect(usage?.bytes).toBeLessThanOrEqual(watch.stats().bytes);
  });

  it("shutdown detaches: nothing more is counted", async () => {
    await readItems();
    const before = await collect();
    const entries = sum(before(INSTRUMENTS.entries.name));
    expect(entries).toBeGreaterThan(0);
    await instrumentation.shutdown();
    await readItems();
    watch.invalidateAll();
    expect(watch.stats().entries).toBe(0);
    const points = await collect();
    expect(sum(points(INSTRUMENTS.hits.name))).toBe(sum(before(INSTRUMENTS.hits.name)));
    // The gauge's callback is gone: no new reading (the SDK may keep showing the last one).
    expect(points(INSTRUMENTS.entries.name).every((p) => p.value === entries)).toBe(true);
  });
});

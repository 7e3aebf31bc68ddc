import { setImmediate as nextTurn } from "node:timers/promises";
import { createCacheWatch, type InvalidateInfo } from "@pgcachewatch/core";
import pg from "pg";
import { connect, dropTriggers, installStatementTriggers } from "../environment.js";
import { int, ms } from "../format.js";
import { type Distribution, now, summarize } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import { sourceVariants } from "../sources.js";
import type { ScenarioContext } from "./context.js";

const ROWS = 1000;
const BACKGROUND_WRITERS = 4;
const GIVE_UP_MS = 3000;

interface LatencyRun {
  source: string;
  load: "idle" | "background writes";
  writes: number;
  event: Distribution;
  read: Distribution;
  /** Events that arrived before the writer's COMMIT had returned to it. */
  eventBeforeCommitReturned: number;
  /** Polled writes whose first read after COMMIT returned still got the old value (inside the delivery window). */
  staleReadsInWindow: number;
  timeouts: number;
  backgroundTps: number;
}

/**
 * Scenario 3: from the writer's COMMIT returning to (a) the engine's invalidate event and (b) the
 * next read through the cache returning the new value. Each write first caches the row, so every
 * write invalidates a live entry.
 */
export async function runInvalidationLatency(context: ScenarioContext): Promise<SectionResult> {
  const result = section(
    "latency",
    "Invalidation latency",
    "An external pg client updates one row (autocommit) whose read was just cached. Alternate writes time " +
      "(a) COMMIT returned -> the engine's 'invalidate' event for that table (the process otherwise idle), and " +
      "(b) COMMIT returned -> a read through the cache, repeated every event-loop turn, returns the new value. " +
      "Events that beat the COMMIT reply to the writer count as 0. " +
      `Background load: ${BACKGROUND_WRITERS} clients updating another watched table as fast as they can.`,
  );
  const writes = context.quick ? 100 : 1000;
  const setup = await connect(context.url);
  for (const table of ["lat_items", "lat_load"]) {
    await setup.query(`DROP TABLE IF EXISTS ${table}`);
    await setup.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, v integer NOT NULL)`);
    await setup.query(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, ${ROWS}) AS g`);
  }
  const runs: LatencyRun[] = [];
  try {
    for (const source of sourceVariants(context.walAvailable)) {
      for (const table of ["lat_items", "lat_load"]) await dropTriggers(setup, table);
      if (source.needsTriggers) await installStatementTriggers(setup, ["lat_items", "lat_load"]);
      for (const load of ["idle", "background writes"] as const) {
        context.log(`latency: ${source.name}, ${load}`);
        runs.push(
          await measureRun(
            context,
            source.label,
            source.options(context.url, ["lat_items", "lat_load"]),
            load,
            writes,
            runs.length,
          ),
        );
      }
    }
  } finally {
    await setup.end();
  }

  result.tables.push({
    title: `Invalidation latency: ${int(writes)} writes timed for the event, ${int(writes)} for the read`,
    columns: [
      "source",
      "load",
      "event p50",
      "event p99",
      "event max",
      "read new value p50",
      "read p99",
      "read max",
      "event before COMMIT reply",
      "writes read stale in window",
      "background tx/s",
    ],
    rows: runs.map((r) => [
      r.source,
      r.load,
      ms(r.event.p50),
      ms(r.event.p99),
      ms(r.event.max),
      ms(r.read.p50),
      ms(r.read.p99),
      ms(r.read.max),
      `${int(r.eventBeforeCommitReturned)} / ${int(r.event.count)}`,
      `${int(r.staleReadsInWindow)} / ${int(r.read.count)}`,
      r.load === "idle" ? "" : int(r.backgroundTps),
    ]),
  });
  for (const r of runs) {
    result.targets.push({
      target: `invalidation p99 < 5 ms (${r.source}, ${r.load})`,
      measured: `event p99 ${ms(r.event.p99)}, read p99 ${ms(r.read.p99)}`,
      met: r.event.p99 < 5 && r.timeouts === 0,
    });
    if (r.timeouts > 0)
      result.notes.push(`${r.source}, ${r.load}: ${r.timeouts} writes not seen within ${GIVE_UP_MS} ms.`);
  }
  result.charts.push({
    title: "Invalidation latency after COMMIT returned",
    unit: "ms",
    log: true,
    series: ["event p50", "event p99", "read p50", "read p99"],
    groups: runs.map((r) => ({
      label: `${r.source.split(" ")[0]}, ${r.load}`,
      values: [r.event.p50, r.event.p99, r.read.p50, r.read.p99].map((v) => Math.max(v, 0.001)),
    })),
  });
  return result;
}

async function measureRun(
  context: ScenarioContext,
  label: string,
  sourceOptions: ReturnType<ReturnType<typeof sourceVariants>[number]["options"]>,
  load: LatencyRun["load"],
  writes: number,
  seed: number,
): Promise<LatencyRun> {
  const watch = createCacheWatch({ ...sourceOptions, ttl: 0 });
  await watch.start();
  const pool = new pg.Pool({ connectionString: context.url, max: 2 });
  const writer = await connect(context.url);
  const read = (id: number) =>
    watch.load({ key: `lat:${id}`, tables: ["lat_items"] }, async () => {
      const { rows } = await pool.query<{ v: number }>("SELECT v FROM lat_items WHERE id = $1", [id]);
      return rows[0]?.v;
    });

  let pending: { id: number; eventAt: number | undefined } | undefined;
  let eventWaiter: (() => void) | undefined;
  const onInvalidate = (info: InvalidateInfo) => {
    if (info.reason !== "change" || pending === undefined || pending.eventAt !== undefined) return;
    if (!info.tables.includes("public.lat_items")) return;
    // A source that knows row keys (WAL) also re-reports earlier changes: match this write's row.
    const keys = info.event?.keys;
    if (keys && !keys.some((k) => Number(k.id) === pending?.id)) return;
    pending.eventAt = now();
    eventWaiter?.();
  };
  watch.on("invalidate", onInvalidate);

  const background = load === "idle" ? undefined : startBackgroundWriters(context.url);
  const eventSamples: number[] = [];
  const readSamples: number[] = [];
  let early = 0;
  let stale = 0;
  let timeouts = 0;
  let backgroundTps = 0;
  try {
    await background?.ready;
    for (let i = 0; i < writes * 2; i++) {
      const id = (i % ROWS) + 1;
      const value = (seed + 1) * 1_000_000 + i;
      // Alternate: even writes time the event alone (nothing else running in this process), odd
      // writes time a reader that polls through the cache every event-loop turn.
      const polling = i % 2 === 1;
      await read(id); // cache the row so the write invalidates a live entry
      pending = { id, eventAt: undefined };
      await writer.query("UPDATE lat_items SET v = $1 WHERE id = $2", [value, id]);
      const committed = now();
      if (polling) {
        let seenAt: number | undefined;
        let sawOld = false;
        while (now() - committed < GIVE_UP_MS) {
          if ((await read(id)) === value) {
            seenAt = now();
            break;
          }
          sawOld = true;
          await nextTurn();
        }
        if (sawOld) stale++;
        if (seenAt === undefined) timeouts++;
        else readSamples.push(seenAt - committed);
        continue;
      }
      while (pending.eventAt === undefined && now() - committed < GIVE_UP_MS) {
        await new Promise<void>((resolve) => {
          eventWaiter = resolve;
          setTimeout(resolve, GIVE_UP_MS).unref();
        });
      }
      if (pending.eventAt === undefined) {
        timeouts++;
        continue;
      }
      if (pending.eventAt < committed) early++;
      eventSamples.push(Math.max(0, pending.eventAt - committed));
    }
  } finally {
    pending = undefined;
    backgroundTps = (await background?.stop()) ?? 0;
    watch.off("invalidate", onInvalidate);
    await watch.stop();
    await writer.end();
    await pool.end();
  }
  return {
    source: label,
    load,
    writes,
    event: summarize(eventSamples),
    read: summarize(readSamples),
    eventBeforeCommitReturned: early,
    staleReadsInWindow: stale,
    timeouts,
    backgroundTps,
  };
}

function startBackgroundWriters(url: string): { ready: Promise<void>; stop(): Promise<number> } {
  let running = true;
  let count = 0;
  const started = now();
  const clients = Array.from({ length: BACKGROUND_WRITERS }, () => new pg.Client({ connectionString: url }));
  const ready = Promise.all(clients.map((c) => c.connect())).then(() => undefined);
  const loops = ready.then(() =>
    Promise.all(
      clients.map(async (client) => {
        while (running) {
          await client.query({
            name: "bg-update",
            text: "UPDATE lat_load SET v = v + 1 WHERE id = $1",
            values: [1 + Math.floor(Math.random() * ROWS)],
          });
          count++;
        }
      }),
    ),
  );
  return {
    ready,
    async stop() {
      running = false;
      await loops;
      const seconds = (now() - started) / 1000;
      await Promise.all(clients.map((c) => c.end()));
      return count / seconds;
    },
  };
}

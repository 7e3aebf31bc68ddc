import { type ChangeEvent, createCacheWatch, type InvalidateInfo } from "@pgcachewatch/core";
import { LRUCache } from "lru-cache";
import pg from "pg";
import { connect, dropTriggers, installStatementTriggers } from "../environment.js";
import { int, ms, pct } from "../format.js";
import { now, sleep, summarize } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import { sourceVariants } from "../sources.js";
import { Zipf } from "../zipf.js";
import type { ScenarioContext } from "./context.js";

const KEYS = 1000;
const WRITE_SHARE = 0.05;
const READERS = 16;

interface Row {
  id: number;
  version: number;
}

/** How a variant reads a row, and what it tells about hits and event delivery. */
interface Reader {
  read(id: number): Promise<Row | undefined>;
  hits(): number;
  lookups(): number;
  /** Change events for the table applied so far (sources only). */
  eventsApplied(): number | undefined;
  close(): Promise<void>;
}

/** Raw counts of one timed run; runs of the same variant add up. */
interface MixCounts {
  variant: string;
  seconds: number;
  reads: number;
  writes: number;
  hits: number;
  lookups: number;
  stale: number;
  /** Stale reads whose write's event had been applied when the read began (sources only). */
  staleAfterEvent: number;
  staleAges: number[];
  writeLatencies: number[];
  /** COMMIT returned -> event applied, per write (sources only). */
  deliveryDelays: number[] | undefined;
}

function addCounts(a: MixCounts, b: MixCounts): MixCounts {
  return {
    variant: a.variant,
    seconds: a.seconds + b.seconds,
    reads: a.reads + b.reads,
    writes: a.writes + b.writes,
    hits: a.hits + b.hits,
    lookups: a.lookups + b.lookups,
    stale: a.stale + b.stale,
    staleAfterEvent: a.staleAfterEvent + b.staleAfterEvent,
    staleAges: [...a.staleAges, ...b.staleAges],
    writeLatencies: [...a.writeLatencies, ...b.writeLatencies],
    deliveryDelays:
      a.deliveryDelays && b.deliveryDelays ? [...a.deliveryDelays, ...b.deliveryDelays] : undefined,
  };
}

/**
 * Scenario 5: a zipfian 95/5 read/write mix. Writes go through a raw writer (one connection, so
 * commits are totally ordered); reads go through the cache under test. A read is stale when it
 * returns a version older than a write to the same key whose COMMIT had returned before the read
 * began. For a change source, a stale read is inside the delivery window when the event of that
 * write had not been applied yet when the read began; beyond it is a consistency bug.
 */
export async function runFreshness(context: ScenarioContext): Promise<SectionResult> {
  const seconds = context.quick ? 2 : 10;
  const result = section(
    "freshness",
    "Freshness under a zipfian 95/5 mix",
    `${READERS} concurrent readers over ${int(KEYS)} keys (zipf s=1), ${pct(WRITE_SHARE)} of operations are ` +
      `UPDATE ... RETURNING version by a raw writer on one connection (commits totally ordered); ${seconds}s per variant. A stale read returns a version ` +
      "older than a write whose COMMIT returned before the read began.",
  );
  const admin = await connect(context.url);
  await admin.query("DROP TABLE IF EXISTS fr_rows");
  await admin.query("CREATE TABLE fr_rows (id integer PRIMARY KEY, version integer NOT NULL)");
  await admin.query(`INSERT INTO fr_rows SELECT g, 0 FROM generate_series(1, ${KEYS}) AS g`);

  interface Variant {
    name: string;
    triggers: boolean;
    reader: (pool: pg.Pool) => Promise<Reader>;
  }
  const variants: Variant[] = [
    ...sourceVariants(context.walAvailable).flatMap((source) => {
      const tableLevel = {
        name: `pgcachewatch table-level (${source.name})`,
        triggers: source.needsTriggers,
        reader: (pool: pg.Pool) => engineReader(pool, source.options(context.url, ["fr_rows"]), "table"),
      };
      // Row-level needs events that carry key values: the WAL source, and the NOTIFY triggers
      // installTriggers puts in place (one per operation, with the key values of each statement).
      return [
        {
          name: `pgcachewatch row-level (${source.name})`,
          triggers: source.needsTriggers,
          reader: (pool: pg.Pool) => engineReader(pool, source.options(context.url, ["fr_rows"]), "row"),
        },
        tableLevel,
      ];
    }),
    ...[1000, 100].map((ttl) => ({
      name: `lru-cache, ttl ${ttl} ms`,
      triggers: false,
      reader: async (pool: pg.Pool) => ttlReader(pool, ttl),
    })),
    { name: "no cache", triggers: false, reader: async (pool: pg.Pool) => directReader(pool) },
  ];
  // Each variant runs twice, in the order A B C D D C B A, so a drift of the shared machine hits all alike.
  const counts = new Map<string, MixCounts>();
  try {
    for (const variant of [...variants, ...[...variants].reverse()]) {
      await dropTriggers(admin, "fr_rows");
      if (variant.triggers) await installStatementTriggers(admin, ["fr_rows"]);
      context.log(`freshness: ${variant.name}`);
      const measured = await runMix(context.url, variant.name, seconds / 2, variant.reader);
      const previous = counts.get(variant.name);
      counts.set(variant.name, previous ? addCounts(previous, measured) : measured);
    }
  } finally {
    await admin.end();
  }
  const runs = [...counts.values()].map((c) => {
    const delivery = c.deliveryDelays ? summarize(c.deliveryDelays) : undefined;
    return {
      variant: c.variant,
      opsPerSecond: (c.reads + c.writes) / c.seconds,
      reads: c.reads,
      writes: c.writes,
      hitRatio: c.hits / Math.max(1, c.lookups),
      stale: c.stale,
      staleBeyondWindow: c.staleAfterEvent,
      // A loop, not Math.max(...ages): a long run collects more ages than the call stack takes arguments.
      maxStaleAge: c.staleAges.reduce((max, age) => Math.max(max, age), 0),
      staleAges: c.staleAges,
      delivery,
      writeLatency: summarize(c.writeLatencies),
    };
  });

  // The window: the slowest event delivery our sources showed in this run. The TTL caches have no
  // events; their stale reads count as beyond the window when they are older than it.
  const window = Math.max(0, ...runs.map((r) => r.delivery?.max ?? 0));
  for (const run of runs) {
    if (!run.delivery) run.staleBeyondWindow = run.staleAges.filter((age) => age > window).length;
  }
  const rows = runs.map((r) => [
    r.variant,
    int(r.opsPerSecond),
    r.variant === "no cache" ? "" : pct(r.hitRatio),
    `${int(r.stale)} (${pct(r.stale / Math.max(1, r.reads))})`,
    int(r.staleBeyondWindow),
    ms(r.maxStaleAge),
    r.delivery ? `${ms(r.delivery.p50)} / ${ms(r.delivery.p99)} / ${ms(r.delivery.max)}` : "",
    int(r.reads),
    int(r.writes),
    `${ms(r.writeLatency.p50)} / ${ms(r.writeLatency.p99)}`,
  ]);
  result.tables.push({
    title: "Throughput, hit ratio and stale reads",
    columns: [
      "variant",
      "ops/s",
      "hit ratio",
      "stale reads",
      "stale beyond window",
      "max stale age",
      "event delivery p50/p99/max",
      "reads",
      "writes",
      "write p50/p99",
    ],
    rows,
  });
  result.notes.push(
    `Delivery window: for a change source, a stale read is inside the window when the event of the write that made it ` +
      `stale had not been applied when the read began. For the TTL caches, "beyond window" counts stale reads older ` +
      `than the slowest event delivery measured in this run (${ms(window)}).`,
    "table-level: the read names fr_rows, so every write drops every cached row (the behaviour before row-level " +
      "invalidation); row-level: the same SELECT through watch.query, whose dependency the analyzer derives as " +
      "fr_rows where id = $1, so a write drops only the entries of the rows it changed.",
  );
  for (const r of runs.filter((x) => x.delivery)) {
    result.targets.push({
      target: `zero stale reads beyond the delivery window (${r.variant})`,
      measured: `${int(r.staleBeyondWindow)} beyond, ${int(r.stale - r.staleBeyondWindow)} inside the window`,
      met: r.staleBeyondWindow === 0,
    });
  }
  const uncached = runs.find((r) => r.variant === "no cache");
  for (const r of runs.filter((x) => x.variant.startsWith("pgcachewatch row-level"))) {
    result.targets.push({
      target: `hit ratio >= 90% (${r.variant})`,
      measured: pct(r.hitRatio),
      met: r.hitRatio >= 0.9,
    });
    if (uncached) {
      const ratio = r.opsPerSecond / Math.max(1, uncached.opsPerSecond);
      result.targets.push({
        target: `throughput >= 3x no cache (${r.variant})`,
        measured: `${ratio.toFixed(2)}x`,
        met: ratio >= 3,
      });
    }
  }
  result.charts.push({
    title: "Stale reads per 10,000 reads",
    unit: "stale reads",
    log: false,
    series: ["stale", "beyond window"],
    groups: runs.map((r) => ({
      label: r.variant,
      values: [
        (r.stale / Math.max(1, r.reads)) * 10_000,
        (r.staleBeyondWindow / Math.max(1, r.reads)) * 10_000,
      ],
    })),
  });
  result.charts.push({
    title: "Mixed workload throughput (ops/s)",
    unit: "ops/s",
    log: false,
    series: ["ops/s"],
    groups: runs.map((r) => ({ label: r.variant, values: [r.opsPerSecond] })),
  });
  return result;
}

async function runMix(
  url: string,
  variant: string,
  seconds: number,
  makeReader: (pool: pg.Pool) => Promise<Reader>,
): Promise<MixCounts> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const writer = await connect(url);
  const reader = await makeReader(pool);
  const zipf = new Zipf(KEYS);
  const { rows: initial } = await writer.query<Row>("SELECT id, version FROM fr_rows");
  // Per key: versions in commit order with when their COMMIT returned and their position in the commit order.
  const history = new Map<number, { version: number; at: number; index: number }[]>();
  for (const row of initial) history.set(row.id, [{ version: row.version, at: 0, index: 0 }]);
  let writesReturned = 0;
  let reads = 0;
  let stale = 0;
  let beyond = 0;
  const staleAges: number[] = [];
  const returnedAt: number[] = [];
  const writeLatencies: number[] = [];

  const write = async (id: number) => {
    const { rows } = await writer.query<{ version: number }>({
      name: "fr-write",
      text: "UPDATE fr_rows SET version = version + 1 WHERE id = $1 RETURNING version",
      values: [id],
    });
    const at = now();
    writesReturned++;
    returnedAt[writesReturned] = at;
    history.get(id)?.push({ version: rows[0]?.version ?? 0, at, index: writesReturned });
  };
  const check = async (id: number) => {
    const started = now();
    const versions = history.get(id) ?? [];
    const latest = versions[versions.length - 1]?.version ?? 0;
    const applied = reader.eventsApplied();
    const row = await reader.read(id);
    reads++;
    const got = row?.version ?? 0;
    if (got >= latest) return;
    // The first write this read missed, among those whose COMMIT returned before it began.
    const missed = versions.find((v) => v.version > got);
    if (!missed) return;
    stale++;
    const age = started - missed.at;
    staleAges.push(age);
    if (applied !== undefined && applied >= missed.index) beyond++;
  };

  // Readers never wait for a write; the writer keeps writes at WRITE_SHARE of all operations, and
  // readers pause only when the writer falls far behind, so the mix stays 95/5 on a slow disk too.
  const readsPerWrite = (1 - WRITE_SHARE) / WRITE_SHARE;
  let running = true;
  let wakeWriter: (() => void) | undefined;
  let wakeReaders: (() => void)[] = [];
  const readers = Array.from({ length: READERS }, async () => {
    while (running) {
      if (reads > (writesReturned + READERS) * readsPerWrite) {
        await new Promise<void>((resolve) => wakeReaders.push(resolve));
        continue;
      }
      await check(zipf.next());
      if (reads >= (writesReturned + 1) * readsPerWrite) wakeWriter?.();
    }
  });
  const writerLoop = (async () => {
    while (running) {
      if (reads < (writesReturned + 1) * readsPerWrite) {
        await new Promise<void>((resolve) => {
          wakeWriter = resolve;
          setTimeout(resolve, 50).unref();
        });
        continue;
      }
      const t0 = now();
      await write(zipf.next());
      writeLatencies.push(now() - t0);
      const waiting = wakeReaders;
      wakeReaders = [];
      for (const wake of waiting) wake();
    }
  })();
  const started = now();
  await sleep(seconds * 1000);
  running = false;
  wakeWriter?.();
  for (const wake of wakeReaders) wake();
  await Promise.all([...readers, writerLoop]);
  const elapsed = (now() - started) / 1000;
  const deliveryDelays = reader.eventsApplied() === undefined ? undefined : deliveryOf(reader, returnedAt);
  const hits = reader.hits();
  const lookups = reader.lookups();
  await reader.close();
  await writer.end();
  await pool.end();
  return {
    variant,
    seconds: elapsed,
    reads,
    writes: writesReturned,
    hits,
    lookups,
    stale,
    staleAfterEvent: beyond,
    staleAges,
    writeLatencies,
    deliveryDelays,
  };
}

function deliveryOf(reader: Reader, returnedAt: number[]): number[] {
  const arrivals = (reader as Reader & { arrivals?: number[] }).arrivals ?? [];
  const delays: number[] = [];
  for (let i = 1; i < arrivals.length && i < returnedAt.length; i++) {
    const arrived = arrivals[i];
    const returned = returnedAt[i];
    if (arrived !== undefined && returned !== undefined) delays.push(Math.max(0, arrived - returned));
  }
  return delays;
}

/**
 * "table": the read names its table (every write to fr_rows drops it, as before row-level
 * invalidation); "row": raw SQL through watch.query, dependencies derived by the analyzer, so a
 * write to another row leaves the entry in place.
 */
async function engineReader(
  pool: pg.Pool,
  options: Parameters<typeof createCacheWatch>[0],
  granularity: "table" | "row",
): Promise<Reader & { arrivals: number[] }> {
  const watch = createCacheWatch({ ...options, ttl: 0 });
  await watch.start();
  let applied = 0;
  const arrivals: number[] = [];
  // Sources that re-report a change (WAL, rule 9) send the original event again: count each change once.
  const seen = new WeakSet<ChangeEvent>();
  let lastReceivedAt = 0;
  watch.on("invalidate", (info: InvalidateInfo) => {
    const event = info.event;
    if (info.reason !== "change" || !event || !info.tables.includes("public.fr_rows")) return;
    if (seen.has(event) || event.receivedAt < lastReceivedAt) return;
    seen.add(event);
    lastReceivedAt = event.receivedAt;
    applied++;
    arrivals[applied] = now();
  });
  const statsAtStart = watch.stats();
  return {
    arrivals,
    read: (id) =>
      granularity === "row"
        ? watch
            .query<Row>(pool, "SELECT id, version FROM fr_rows WHERE id = $1", [id])
            .then((result) => result.rows[0])
        : watch.load({ key: `fr:${id}`, tables: ["fr_rows"] }, async () => {
            const { rows } = await pool.query<Row>({
              name: "fr-read",
              text: "SELECT id, version FROM fr_rows WHERE id = $1",
              values: [id],
            });
            return rows[0];
          }),
    hits: () => watch.stats().hits - statsAtStart.hits,
    lookups: () => {
      const stats = watch.stats();
      return stats.hits + stats.misses - statsAtStart.hits - statsAtStart.misses;
    },
    eventsApplied: () => applied,
    close: () => watch.stop(),
  };
}

async function ttlReader(pool: pg.Pool, ttl: number): Promise<Reader> {
  const cache = new LRUCache<number, Row>({ max: 10_000, ttl });
  let hits = 0;
  let lookups = 0;
  return {
    async read(id) {
      lookups++;
      const cachedRow = cache.get(id);
      if (cachedRow !== undefined) {
        hits++;
        return cachedRow;
      }
      const { rows } = await pool.query<Row>({
        name: "fr-read",
        text: "SELECT id, version FROM fr_rows WHERE id = $1",
        values: [id],
      });
      if (rows[0]) cache.set(id, rows[0]);
      return rows[0];
    },
    hits: () => hits,
    lookups: () => lookups,
    eventsApplied: () => undefined,
    close: async () => {},
  };
}

function directReader(pool: pg.Pool): Reader {
  return {
    async read(id) {
      const { rows } = await pool.query<Row>({
        name: "fr-read",
        text: "SELECT id, version FROM fr_rows WHERE id = $1",
        values: [id],
      });
      return rows[0];
    },
    hits: () => 0,
    lookups: () => 0,
    eventsApplied: () => undefined,
    close: async () => {},
  };
}

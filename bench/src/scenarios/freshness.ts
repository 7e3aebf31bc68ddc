import { connect, dropTriggers, installStatementTriggers } from "../environment.js";
import { int, ms, pct } from "../format.js";
import { summarize } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import type { ScenarioContext } from "./context.js";
import { addCounts, createRows, type MixCounts, type MixShape, runMix } from "./key-mix.js";
import { mixVariants } from "./mix-variants.js";

const SHAPE: MixShape = { keys: 1000, readers: 16, writers: 4, writeShare: 0.05 };

/**
 * Scenario 5: a zipfian 95/5 read/write mix. Writes go through raw writers on their own
 * connections; reads go through the cache under test. A read is stale when it returns a version
 * older than a write to the same key whose UPDATE had returned before the read began. For a change
 * source, a stale read is inside the delivery window when the event of that write had not been
 * applied yet when the read began; beyond it is a consistency bug.
 */
export async function runFreshness(context: ScenarioContext): Promise<SectionResult> {
  const seconds = context.quick ? 2 : 10;
  const result = section(
    "freshness",
    "Freshness under a zipfian 95/5 mix",
    `${SHAPE.readers} concurrent readers over ${int(SHAPE.keys)} keys (zipf s=1, pool of 4 connections), ` +
      `${pct(SHAPE.writeShare)} of operations are single-row UPDATE ... RETURNING version by raw writers on ` +
      `${SHAPE.writers} connections of their own (keys drawn from the same zipf); ${seconds}s per variant. ` +
      "Each run first reads every key once (warm cache, not timed). A stale read returns a version older than a " +
      "write to its key whose UPDATE returned before the read began.",
  );
  const admin = await connect(context.url);
  await createRows(admin, SHAPE.keys);
  const variants = mixVariants(context, SHAPE.keys, {
    tableLevel: ["notify", "wal"],
    ttls: [1000, 100],
    broken: context.proveChecker,
  });
  // Each variant runs twice, in the order A B C D D C B A, so a drift of the shared machine hits all alike.
  const counts = new Map<string, MixCounts>();
  try {
    for (const variant of [...variants, ...[...variants].reverse()]) {
      await dropTriggers(admin, "fr_rows");
      if (variant.triggers) await installStatementTriggers(admin, ["fr_rows"]);
      context.log(`freshness: ${variant.name}`);
      const measured = await runMix(context.url, SHAPE, seconds / 2, variant.reader);
      const previous = counts.get(variant.name);
      counts.set(variant.name, previous ? addCounts(previous, measured) : measured);
    }
  } finally {
    await dropTriggers(admin, "fr_rows");
    await admin.end();
  }
  const runs = [...counts.entries()].map(([variant, c]) => {
    const delivery = c.deliveryDelays ? summarize(c.deliveryDelays) : undefined;
    return {
      variant,
      counts: c,
      opsPerSecond: (c.reads + c.writes) / c.seconds,
      writesPerSecond: c.writes / c.seconds,
      hitRatio: c.hits / Math.max(1, c.lookups),
      staleBeyondWindow: c.staleBeyond,
      // A loop, not Math.max(...ages): a long run collects more ages than the call stack takes arguments.
      maxStaleAge: c.staleAges.reduce((max, age) => Math.max(max, age), 0),
      delivery,
      writeLatency: summarize(c.writeLatencies),
    };
  });

  // The window: the slowest event delivery our sources showed in this run. The TTL caches have no
  // events; their stale reads count as beyond the window when they are older than it.
  const window = Math.max(
    0,
    ...runs.filter((r) => !r.variant.startsWith("BROKEN")).map((r) => r.delivery?.max ?? 0),
  );
  for (const run of runs) {
    if (!run.delivery) run.staleBeyondWindow = run.counts.staleAges.filter((age) => age > window).length;
  }
  result.tables.push({
    title: "Throughput, hit ratio and stale reads",
    columns: [
      "variant",
      "ops/s",
      "hit ratio",
      "stale reads",
      "stale after first event",
      "stale beyond window",
      "max stale age",
      "event delivery p50/p99/max",
      "reads",
      "writes (per s)",
      "write p50/p99",
      "write-bound ceiling",
    ],
    rows: runs.map((r) => [
      r.variant,
      int(r.opsPerSecond),
      r.variant === "no cache" ? "" : pct(r.hitRatio),
      `${int(r.counts.stale)} (${pct(r.counts.stale / Math.max(1, r.counts.reads))})`,
      r.delivery ? int(r.counts.staleAfterEvent) : "",
      int(r.staleBeyondWindow),
      ms(r.maxStaleAge),
      r.delivery ? `${ms(r.delivery.p50)} / ${ms(r.delivery.p99)} / ${ms(r.delivery.max)}` : "",
      int(r.counts.reads),
      `${int(r.counts.writes)} (${int(r.writesPerSecond)})`,
      `${ms(r.writeLatency.p50)} / ${ms(r.writeLatency.p99)}`,
      int(SHAPE.writers / (r.writeLatency.mean / 1000) / SHAPE.writeShare),
    ]),
  });
  const engines = runs.filter((r) => r.delivery);
  result.tables.push({
    title: "What the engines did (misses explained)",
    columns: [
      "variant",
      "misses per 1,000 reads",
      "misses per write",
      "fills refused by the fill guard",
      "events applied",
      "table-wide events",
      "re-reported events (entries they dropped)",
      "re-reports without key values",
    ],
    rows: engines.map((r) => {
      const misses = r.counts.lookups - r.counts.hits;
      return [
        r.variant,
        ((misses / Math.max(1, r.counts.lookups)) * 1000).toFixed(1),
        (misses / Math.max(1, r.counts.writes)).toFixed(2),
        int(r.counts.fillsRejected),
        int(r.counts.events),
        int(r.counts.tableWideEvents),
        `${int(r.counts.reReports)} (${int(r.counts.reReportEntries)})`,
        int(r.counts.reReportsTableWide),
      ];
    }),
  });
  result.notes.push(
    `Writers: ${SHAPE.writers} connections, each issuing the next UPDATE only while writes stay at ${pct(SHAPE.writeShare)} ` +
      "of all operations, so the write rate follows the read rate instead of one connection's commit latency. " +
      "Per key the row lock serialises the UPDATEs, so version n is the n-th commit to that key.",
    `Write-bound ceiling: writes are held at ${pct(SHAPE.writeShare)} of operations, so ops/s cannot pass ` +
      `${SHAPE.writers} writers / mean write latency / ${SHAPE.writeShare}; a variant near its ceiling is limited by ` +
      "its writes (commit latency, and for NOTIFY the commits that queue on the notify lock), not by its reads.",
    "Delivery window, per key: events arrive in commit order and each UPDATE is one event, so the n-th applied event " +
      "naming key k is the n-th write to k; a table-wide event counts for every key (which can only add to " +
      '"beyond"). "Stale after first event": the event of the first write the read missed had been applied before ' +
      "the read began. For NOTIFY that closes the window. The WAL source may decode a commit a moment before it is " +
      "visible to new snapshots (the visibility gap), so a load right after the event can still read the old row; " +
      "its window closes when the re-report of that change (sent 100 ms later) has been applied too. " +
      `"Beyond window" counts stale reads whose window had closed. For the TTL caches, "beyond window" counts stale reads older than the slowest event ` +
      `delivery measured in this run (${ms(window)}).`,
    "table-level: the read names fr_rows, so every write drops every cached row (the behaviour before row-level " +
      "invalidation); row-level: the same SELECT through watch.query, whose dependency the analyzer derives as " +
      "fr_rows where id = $1, so a write drops only the entries of the rows it changed.",
    "The checker can fail: `pnpm bench --only freshness --prove-checker` adds a reader that never invalidates " +
      "every tenth key, and its stale reads beyond the window come out above zero.",
    "Re-reported events: the WAL source reports every change a second time after 100 ms (visibility recheck); " +
      "each entry such a re-report drops was filled after the first report and costs one more miss.",
  );
  for (const r of engines) {
    result.targets.push({
      target: `zero stale reads beyond the delivery window (${r.variant})`,
      measured: `${int(r.staleBeyondWindow)} beyond, ${int(r.counts.stale - r.staleBeyondWindow)} inside the window`,
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
        (r.counts.stale / Math.max(1, r.counts.reads)) * 10_000,
        (r.staleBeyondWindow / Math.max(1, r.counts.reads)) * 10_000,
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

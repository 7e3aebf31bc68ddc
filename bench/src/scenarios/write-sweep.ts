import { connect, dropTriggers, installStatementTriggers } from "../environment.js";
import { int, pct } from "../format.js";
import { type SectionResult, section } from "../result.js";
import type { ScenarioContext } from "./context.js";
import { addCounts, createRows, type MixCounts, type MixShape, runMix } from "./key-mix.js";
import { mixVariants } from "./mix-variants.js";

const KEYS = 1000;
const READERS = 16;
const WRITERS = 4;

/**
 * The zipfian mix of the freshness scenario at several write fractions: where does caching stop
 * paying? In a full run each point runs every variant twice (A B C C B A), so a drift of the machine
 * hits all alike.
 */
export async function runWriteSweep(context: ScenarioContext): Promise<SectionResult> {
  const fractions = context.quick ? [0.01, 0.2] : [0.001, 0.01, 0.05, 0.2];
  const seconds = context.quick ? 1 : 4;
  const result = section(
    "sweep",
    "Write-fraction sweep",
    `The freshness mix (${READERS} readers, ${int(KEYS)} keys, zipf s=1, ${WRITERS} raw writer connections, ` +
      `single-row UPDATEs) at write fractions ${fractions.map((f) => pct(f)).join(", ")}; ${seconds}s per variant ` +
      "and point, each run after reading every key once (warm cache, not timed). Throughput counts reads and writes.",
  );
  const admin = await connect(context.url);
  await createRows(admin, KEYS);
  const variants = mixVariants(context, KEYS, { tableLevel: ["notify"], ttls: [1000], broken: false });
  const measured = new Map<string, MixCounts>();
  const id = (variant: string, fraction: number) => `${variant}\u0000${fraction}`;
  try {
    for (const fraction of fractions) {
      const shape: MixShape = { keys: KEYS, readers: READERS, writers: WRITERS, writeShare: fraction };
      // Quick mode runs each variant once per point; a full run twice, A B C C B A.
      for (const variant of context.quick ? variants : [...variants, ...[...variants].reverse()]) {
        await dropTriggers(admin, "fr_rows");
        if (variant.triggers) await installStatementTriggers(admin, ["fr_rows"]);
        context.log(`sweep ${pct(fraction)}: ${variant.name}`);
        const counts = await runMix(
          context.url,
          shape,
          context.quick ? seconds : seconds / 2,
          variant.reader,
        );
        const previous = measured.get(id(variant.name, fraction));
        measured.set(id(variant.name, fraction), previous ? addCounts(previous, counts) : counts);
      }
    }
  } finally {
    await dropTriggers(admin, "fr_rows");
    await admin.end();
  }
  const opsPerSecond = (c: MixCounts | undefined) => (c ? (c.reads + c.writes) / c.seconds : Number.NaN);
  const uncached = (fraction: number) => opsPerSecond(measured.get(id("no cache", fraction)));
  result.tables.push({
    title: "Throughput (ops/s) by write fraction, and the ratio to no cache",
    columns: ["variant", ...fractions.map((f) => `${pct(f)} writes`)],
    rows: variants.map((v) => [
      v.name,
      ...fractions.map((f) => {
        const ops = opsPerSecond(measured.get(id(v.name, f)));
        return v.name === "no cache" ? int(ops) : `${int(ops)} (${(ops / uncached(f)).toFixed(2)}x)`;
      }),
    ]),
  });
  result.tables.push({
    title: "Hit ratio and stale reads beyond the delivery window (engines) by write fraction",
    columns: ["variant", ...fractions.map((f) => `${pct(f)} writes`)],
    rows: variants
      .filter((v) => v.name !== "no cache")
      .map((v) => [
        v.name,
        ...fractions.map((f) => {
          const c = measured.get(id(v.name, f));
          if (!c) return "";
          const hit = pct(c.hits / Math.max(1, c.lookups));
          return c.deliveryDelays ? `${hit}, ${int(c.staleBeyond)} beyond` : hit;
        }),
      ]),
  });
  // Where caching stops paying: the first fraction at which a variant is no faster than no cache.
  for (const v of variants.filter((x) => x.name !== "no cache")) {
    const last = fractions.filter((f) => opsPerSecond(measured.get(id(v.name, f))) > uncached(f) * 1.1);
    const losing = fractions.find((f) => opsPerSecond(measured.get(id(v.name, f))) <= uncached(f) * 1.1);
    result.notes.push(
      `${v.name}: ${last.length > 0 ? `more than 1.1x no cache up to ${pct(last[last.length - 1] ?? 0)} writes` : "never more than 1.1x no cache"}` +
        (losing !== undefined ? `; at most 1.1x from ${pct(losing)} writes` : "; at every fraction measured"),
    );
  }
  result.notes.push(
    "Stale reads of the TTL cache are not counted as beyond a window here (see the freshness scenario); " +
      "the engines' are, exactly per key as there.",
  );
  result.charts.push({
    title: "Throughput by write fraction (ops/s)",
    kind: "lines",
    xLabel: "share of operations that are writes",
    unit: "ops/s",
    log: true,
    series: variants.map((v) => v.name),
    groups: fractions.map((f) => ({
      label: `${pct(f)} writes`,
      values: variants.map((v) => opsPerSecond(measured.get(id(v.name, f)))),
    })),
  });
  return result;
}

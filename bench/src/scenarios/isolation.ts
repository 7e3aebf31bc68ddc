import { cloneValue } from "@pgcachewatch/core";
import { createItems } from "../dataset.js";
import { connect } from "../environment.js";
import { ns, ratio } from "../format.js";
import { measureSync } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import type { ScenarioContext } from "./context.js";

/**
 * The engine hands every caller its own copy (rule 6). What does that cost, next to
 * structuredClone and to handing out the shared object (no isolation)?
 */
export async function runIsolation(context: ScenarioContext): Promise<SectionResult> {
  const result = section(
    "isolation",
    "Isolation cost (copy on hit)",
    "Copying a cached result as the engine does on every hit (cloneValue), against structuredClone, " +
      "JSON round trip, and no copy at all. Values are real query results (pg's parsed rows).",
  );
  const client = await connect(context.url);
  await createItems(client);
  const sizes = context.quick ? [1, 10, 100] : [1, 10, 100, 1000];
  const values = new Map<number, unknown[]>();
  for (const size of sizes) {
    values.set(size, (await client.query("SELECT * FROM items ORDER BY id LIMIT $1", [size])).rows);
  }
  await client.end();

  const iterationsFor = (size: number) => Math.max(200, Math.floor((context.quick ? 5_000 : 200_000) / size));
  const rows: string[][] = [];
  const groups: { label: string; values: (number | undefined)[] }[] = [];
  for (const size of sizes) {
    const value = values.get(size) ?? [];
    const iterations = iterationsFor(size);
    const options = { iterations, warmup: Math.min(2000, iterations), batch: Math.min(100, iterations) };
    const engine = measureSync(() => cloneValue(value), options);
    const structured = measureSync(() => structuredClone(value), options);
    const json = measureSync(() => JSON.parse(JSON.stringify(value)), options);
    const none = measureSync(() => value, options);
    rows.push([
      `${size} row${size === 1 ? "" : "s"}`,
      ns(none.batchedMean),
      `${ns(engine.perCall.p50)} / ${ns(engine.perCall.p99)}`,
      `${ns(structured.perCall.p50)} / ${ns(structured.perCall.p99)}`,
      `${ns(json.perCall.p50)} / ${ns(json.perCall.p99)}`,
      ratio(structured.perCall.p50 / Math.max(1, engine.perCall.p50)),
    ]);
    groups.push({
      label: `${size} rows`,
      values: [engine.perCall.p50, structured.perCall.p50, json.perCall.p50],
    });
  }
  result.tables.push({
    title: "Copy per hit (p50 / p99)",
    columns: [
      "result size",
      "no copy",
      "engine cloneValue",
      "structuredClone",
      "JSON round trip",
      "structuredClone/engine",
    ],
    rows,
  });
  result.charts.push({
    title: "Copy per hit, p50 (log scale)",
    unit: "ns",
    log: true,
    series: ["cloneValue", "structuredClone", "JSON round trip"],
    groups,
  });
  result.notes.push(
    "JSON round trip is not a valid isolation (Date becomes a string); it is shown as the usual shortcut. " +
      "structuredClone would also strip class prototypes (e.g. Prisma's Decimal), which cloneValue shares as immutable.",
  );
  return result;
}

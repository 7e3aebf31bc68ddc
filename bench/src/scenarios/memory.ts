import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createCacheWatch } from "@pgcachewatch/core";
import { createItems, ITEMS_BY_CATEGORY } from "../dataset.js";
import { connect } from "../environment.js";
import { bytes, int, ratio } from "../format.js";
import { type SectionResult, section } from "../result.js";
import type { ScenarioContext } from "./context.js";

/** A full collection, so heap figures measure what is retained. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  return () => {
    gc();
    gc();
  };
}

/**
 * Scenario 6: heap retained per cached entry next to the JSON size of its rows and the engine's
 * own estimate; then a flood of distinct keys against a small maxBytes.
 */
export async function runMemory(context: ScenarioContext): Promise<SectionResult> {
  const result = section(
    "memory",
    "Memory",
    "Heap after a full GC, before and after filling the cache with N distinct 10-row results (real rows " +
      "from pg). Then a flood of distinct keys through an engine with maxBytes = 8 MiB.",
  );
  const gc = collector();
  const client = await connect(context.url);
  await createItems(client);
  const categories = 1000;
  // The same 10-row results the items query returns, fetched in one round trip.
  const { rows } = await client.query<{ category: number; rows: unknown[] }>(
    `SELECT category, (SELECT json_agg(i) FROM (${ITEMS_BY_CATEGORY.replace("$1", "c.category")}) AS i) AS rows
     FROM (SELECT DISTINCT category FROM items) AS c ORDER BY category`,
  );
  const results = rows.map((r) => r.rows);
  await client.end();
  const jsonBytes =
    results.reduce((sum, rows) => sum + Buffer.byteLength(JSON.stringify(rows)), 0) / categories;

  // Per entry: fill N keys (the loader hands the engine a fresh parse of a result each time).
  const entries = context.quick ? 2_000 : 20_000;
  const watch = createCacheWatch({ source: "none", maxEntries: entries * 2, maxBytes: 1024 ** 3, ttl: 0 });
  await watch.start();
  const source = results.map((rows) => JSON.stringify(rows));
  const revive = (text: string) =>
    // As pg parses them: timestamptz to Date, numeric to string.
    JSON.parse(text, (key, value) =>
      key === "created_at" ? new Date(value as string) : key === "price" ? String(value) : value,
    ) as unknown;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < entries; i++) {
    await watch.load({ key: `mem:${i}`, tables: ["items"] }, async () =>
      revive(source[i % categories] ?? "[]"),
    );
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  const stats = watch.stats();
  const heapPerEntry = (after - before) / entries;
  const estimatePerEntry = stats.bytes / Math.max(1, stats.entries);
  await watch.stop();

  result.tables.push({
    title: "Heap per cached entry (10-row result)",
    columns: [
      "entries",
      "heap per entry",
      "JSON size of rows",
      "heap/JSON",
      "engine estimate per entry",
      "estimate/heap",
    ],
    rows: [
      [
        int(stats.entries),
        bytes(heapPerEntry),
        bytes(jsonBytes),
        ratio(heapPerEntry / jsonBytes),
        bytes(estimatePerEntry),
        ratio(estimatePerEntry / heapPerEntry),
      ],
    ],
  });

  // Flood: far more distinct keys than fit; heap and the engine's count must stay bounded.
  const maxBytes = 8 * 1024 * 1024;
  const flood = createCacheWatch({ source: "none", maxEntries: 1_000_000, maxBytes, ttl: 0 });
  await flood.start();
  gc();
  const floodBase = process.memoryUsage().heapUsed;
  const floodKeys = context.quick ? 15_000 : 200_000;
  let maxCounted = 0;
  let maxHeapGrowth = 0;
  const samples: { keys: number; counted: number; heap: number }[] = [];
  for (let i = 0; i < floodKeys; i++) {
    await flood.load({ key: `flood:${i}`, tables: ["items"] }, async () =>
      revive(source[i % categories] ?? "[]"),
    );
    if (i % Math.floor(floodKeys / 10) === 0 || i === floodKeys - 1) {
      gc();
      const counted = flood.stats().bytes;
      const heap = process.memoryUsage().heapUsed - floodBase;
      maxCounted = Math.max(maxCounted, counted);
      maxHeapGrowth = Math.max(maxHeapGrowth, heap);
      samples.push({ keys: i + 1, counted, heap });
    }
  }
  const floodStats = flood.stats();
  await flood.stop();
  result.tables.push({
    title: `Flood of ${int(floodKeys)} distinct keys, maxBytes ${bytes(maxBytes)}`,
    columns: [
      "keys loaded",
      "entries kept",
      "evictions",
      "engine bytes (max)",
      "heap growth (max, after GC)",
      "heap growth / maxBytes",
    ],
    rows: [
      [
        int(floodKeys),
        int(floodStats.entries),
        int(floodStats.evictions),
        bytes(maxCounted),
        bytes(maxHeapGrowth),
        ratio(maxHeapGrowth / maxBytes),
      ],
    ],
  });
  result.targets.push({
    target: "heap stays under maxBytes while flooding distinct keys",
    measured: `engine count max ${bytes(maxCounted)}, heap growth max ${bytes(maxHeapGrowth)} (maxBytes ${bytes(maxBytes)})`,
    met: maxCounted <= maxBytes && maxHeapGrowth <= maxBytes,
  });
  result.charts.push({
    title: "Flood: engine's byte count and heap growth vs keys loaded",
    unit: "MiB",
    log: false,
    series: ["engine bytes", "heap growth", "maxBytes"],
    groups: samples.map((s) => ({
      label: int(s.keys),
      values: [s.counted / 1024 ** 2, Math.max(0, s.heap) / 1024 ** 2, maxBytes / 1024 ** 2],
    })),
  });
  return result;
}

import { cloneAndMeasure, cloneValue } from "@pgcachewatch/core";
import { previousCloneValue } from "./scenarios/previous-copier.js";
function makeRows(n: number, withDate = true) {
  const rows = [];
  for (let g = 1; g <= n; g++) {
    const r: Record<string, unknown> = { id: null, category: null, name: null, price: null, created_at: null, tags: null, attributes: null };
    r.id = g; r.category = g % 1000; r.name = "item " + g; r.price = ((g % 997) * 1.25).toFixed(2);
    r.created_at = withDate ? new Date(1.7e12 - g * 60000) : "2024-01-01T00:00:00Z"; r.tags = ["tag" + (g % 7), "tag" + (g % 11)];
    r.attributes = JSON.parse(JSON.stringify({ color: "c" + (g % 13), size: g % 5, stock: g % 100 }));
    rows.push(r);
  }
  return rows;
}
function bench(fn: () => unknown, n: number) {
  const iters = Math.max(200, Math.floor(200000 / n));
  for (let i = 0; i < 2000; i++) fn();
  const samples = [];
  for (let rep = 0; rep < 15; rep++) {
    const t0 = process.hrtime.bigint();
    const k = Math.max(10, (iters / 15) | 0);
    for (let i = 0; i < k; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / k);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}
for (const withDate of [true, false]) for (const n of [1, 10, 100, 1000]) {
  const rows = makeRows(n, withDate);
  const stored = cloneAndMeasure(rows).copy;
  const res = { prev: bench(() => previousCloneValue(rows), n), storedNew: bench(() => cloneValue(stored), n), unknownNew: bench(() => cloneValue(rows), n), sc: bench(() => structuredClone(rows), n) };
  console.log(withDate ? "date" : "nodate", n, Object.entries(res).map(([k, v]) => `${k}=${(v / 1000).toFixed(3)}us`).join(" "), "ratio", (res.prev / res.storedNew).toFixed(2));
}

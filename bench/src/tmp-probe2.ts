import { cloneAndMeasure, cloneValue } from "@pgcachewatch/core";
import { previousCloneValue } from "./scenarios/previous-copier.js";
function makeRows(n: number) {
  const rows = [];
  for (let g = 1; g <= n; g++) {
    const r: Record<string, unknown> = { id: null, category: null, name: null, price: null, created_at: null, tags: null, attributes: null };
    r.id = g; r.category = g % 1000; r.name = "item " + g; r.price = ((g % 997) * 1.25).toFixed(2);
    r.created_at = new Date(1.7e12 - g * 60000); r.tags = ["tag" + (g % 7), "tag" + (g % 11)];
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
const mega = process.argv[2] === "mega";
if (mega) {
  for (let s = 0; s < 40; s++) {
    const rows = Array.from({ length: 5 }, (_, i) => { const r: Record<string, unknown> = {}; for (let k = 0; k <= s % 12; k++) r[`f${s}_${k}`] = k % 3 ? i : { x: i, [`y${s}`]: [i] }; return r; });
    const stored = cloneAndMeasure(rows).copy;
    for (let i = 0; i < 3000; i++) { previousCloneValue(rows); cloneValue(stored); cloneValue(rows); }
  }
}
for (const n of [1, 10, 100, 1000]) {
  const rows = makeRows(n);
  const stored = cloneAndMeasure(rows).copy;
  const res = { prev: bench(() => previousCloneValue(rows), n), storedNew: bench(() => cloneValue(stored), n), unknownNew: bench(() => cloneValue(rows), n) };
  console.log(mega ? "mega" : "mono", n, Object.entries(res).map(([k, v]) => `${k}=${(v / 1000).toFixed(3)}us`).join(" "), "ratio", (res.prev / res.storedNew).toFixed(2));
}

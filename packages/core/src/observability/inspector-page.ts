import { createHash } from "node:crypto";

/**
 * The inspector's page: one HTML document with its style and script inline (no CDN, no build step),
 * drawing SVG charts from the JSON it polls at `?data` (relative to wherever the handler is mounted).
 * Everything that comes from the data (table names, query shapes) goes in through textContent.
 */

const STYLE = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d232b; --dim:#6a7480; --line:#e3e6ea; --hit:#1f9d55;
  --miss:#d9822b; --inv:#c0392b; --accent:#2f6fdf; --bytes:#8e6bd8; --lost:#c0392b; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; align-items:center; gap:12px; padding:14px 20px; background:var(--card); border-bottom:1px solid var(--line); }
header h1 { font-size:17px; margin:0; font-weight:600; }
.badge { padding:2px 10px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--dim); }
.badge.serving { background:var(--hit); } .badge.lost { background:var(--lost); } .badge.starting { background:var(--miss); }
#updated { margin-left:auto; color:var(--dim); font-size:12px; }
main { padding:16px 20px; display:grid; gap:16px; grid-template-columns:repeat(auto-fit,minmax(420px,1fr)); }
.kpis { grid-column:1/-1; display:grid; gap:10px; grid-template-columns:repeat(auto-fit,minmax(120px,1fr)); }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.kpi .label { color:var(--dim); font-size:12px; } .kpi .value { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; min-width:0; }
section h2 { font-size:13px; margin:0 0 8px; font-weight:600; color:var(--dim); text-transform:uppercase; letter-spacing:.04em; }
section.wide { grid-column:1/-1; }
svg { display:block; width:100%; }
svg text { font-size:11px; fill:var(--dim); }
.empty { color:var(--dim); font-style:italic; padding:18px 0; }
table { width:100%; border-collapse:collapse; font-size:12px; }
th, td { text-align:right; padding:4px 6px; border-bottom:1px solid var(--line); font-variant-numeric:tabular-nums; }
th:first-child, td:first-child { text-align:left; }
td.shape { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; max-width:520px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.legend { display:flex; gap:14px; font-size:12px; color:var(--dim); margin-top:4px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
#error { display:none; grid-column:1/-1; color:var(--inv); }
`;

const SCRIPT = `
"use strict";
const NS = "http://www.w3.org/2000/svg";
const poll = Number(document.body.dataset.poll) || 1000;
const $ = (id) => document.getElementById(id);

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}
function svg(width, height) {
  return el("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
}
function fmtInt(n) { return Math.round(n).toLocaleString("en-US"); }
function plural(n, word) { return fmtInt(n) + " " + word + (Math.round(n) === 1 ? "" : "s"); }
function fmtBytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB"]; let u = -1;
  do { n /= 1024; u++; } while (n >= 1024 && u < units.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + " " + units[u];
}
function fmtMs(n) { return n === null || n === undefined ? "–" : n < 10 ? n.toFixed(2) + " ms" : fmtInt(n) + " ms"; }
function pct(x) { return x === null ? "–" : (x * 100).toFixed(1) + "%"; }
function ratio(hits, misses) { return hits + misses === 0 ? null : hits / (hits + misses); }
function setKpi(id, value, text) { const node = $(id); node.dataset.value = String(value); node.textContent = text; }
function replace(id, node) { const box = $(id); box.replaceChildren(node); }
function empty(text) { const d = document.createElement("div"); d.className = "empty"; d.textContent = text; return d; }

function hitRatioChart(series) {
  const W = 600, H = 180, L = 36, B = 20, T = 8;
  const s = svg(W, H);
  for (const y of [0, 0.5, 1]) {
    const py = T + (1 - y) * (H - T - B);
    s.append(el("line", { x1: L, x2: W, y1: py, y2: py, stroke: "#e3e6ea" }));
    s.append(el("text", { x: 2, y: py + 4 }, (y * 100) + "%"));
  }
  const points = [];
  let maxReads = 0;
  for (let i = 1; i < series.length; i++) {
    const a = series[i - 1], b = series[i];
    const hits = b.hits - a.hits, misses = b.misses - a.misses;
    maxReads = Math.max(maxReads, hits + misses);
    points.push({ at: b.at, reads: hits + misses, r: ratio(hits, misses) });
  }
  if (points.length === 0) return s;
  const t0 = points[0].at, t1 = points[points.length - 1].at, span = Math.max(1, t1 - t0);
  const x = (at) => L + ((at - t0) / span) * (W - L - 4);
  const bw = Math.max(1, (W - L) / points.length - 1);
  for (const p of points) {
    if (p.reads === 0) continue;
    const h = (p.reads / maxReads) * (H - T - B) * 0.35;
    const left = Math.max(L, x(p.at) - bw / 2), right = Math.min(W, x(p.at) + bw / 2);
    s.append(el("rect", { x: left, y: H - B - h, width: Math.max(1, right - left), height: h, fill: "#2f6fdf", opacity: 0.18 }));
  }
  let d = "", pen = false;
  for (const p of points) {
    if (p.r === null) { pen = false; continue; }
    const py = T + (1 - p.r) * (H - T - B);
    d += (pen ? "L" : "M") + x(p.at).toFixed(1) + " " + py.toFixed(1);
    pen = true;
  }
  s.append(el("path", { d, fill: "none", stroke: "#1f9d55", "stroke-width": 2 }));
  // A dot per sample with reads: a lone sample between idle ones has no line to be part of.
  for (const p of points) {
    if (p.r === null) continue;
    s.append(el("circle", { cx: x(p.at), cy: T + (1 - p.r) * (H - T - B), r: 3, fill: "#1f9d55" }));
  }
  s.append(el("text", { x: L, y: H - 4 }, new Date(t0).toLocaleTimeString()));
  s.append(el("text", { x: W - 2, y: H - 4, "text-anchor": "end" }, new Date(t1).toLocaleTimeString()));
  return s;
}

function hbars(rows, series) {
  // rows: [{ label, values: [n, ...] }], series: [{ color, format }]
  const rowH = 18 * series.length + 8, W = 600, L = 170;
  const H = Math.max(rowH, rows.length * rowH);
  const s = svg(W, H);
  const max = series.map((_, k) => Math.max(1, ...rows.map((r) => r.values[k])));
  rows.forEach((r, i) => {
    const y = i * rowH;
    s.append(el("text", { x: 0, y: y + 14 }, r.label.length > 26 ? r.label.slice(0, 25) + "…" : r.label));
    series.forEach((ser, k) => {
      const w = (r.values[k] / max[k]) * (W - L - 90);
      const by = y + 2 + k * 18;
      s.append(el("rect", { x: L, y: by, width: Math.max(1, w), height: 14, rx: 2, fill: ser.color }));
      s.append(el("text", { x: L + w + 6, y: by + 11 }, ser.format(r.values[k])));
    });
  });
  return s;
}

function latencyChart(latency) {
  const W = 600, H = 170, B = 22, T = 14;
  const s = svg(W, H);
  const n = latency.buckets.length, bw = W / n;
  const max = Math.max(1, ...latency.buckets.map((b) => b.count));
  let lower = 0;
  latency.buckets.forEach((b, i) => {
    const h = (b.count / max) * (H - B - T);
    s.append(el("rect", { x: i * bw + 2, y: H - B - h, width: bw - 4, height: h, rx: 2, fill: "#2f6fdf" }));
    if (b.count > 0) s.append(el("text", { x: i * bw + 4, y: H - B - h - 3 }, fmtInt(b.count)));
    s.append(el("text", { x: i * bw + 2, y: H - 6 }, b.le === null ? ">" + lower : "≤" + b.le));
    if (b.le !== null) lower = b.le;
  });
  return s;
}

function sourceStrip(data) {
  // A full-width section: a wider view box keeps its text at the size of the other charts'.
  const W = 1200, H = 40;
  const s = svg(W, H);
  const series = data.series;
  if (series.length < 2) return s;
  const t0 = series[0].at, t1 = series[series.length - 1].at, span = Math.max(1, t1 - t0);
  const bw = W / (series.length - 1);
  for (let i = 1; i < series.length; i++) {
    s.append(el("rect", { x: (i - 1) * bw, y: 4, width: bw + 0.5, height: 18, fill: series[i].serving ? "#1f9d55" : "#c0392b" }));
  }
  for (const t of data.source.transitions) {
    if (t.at < t0) continue;
    const x = ((t.at - t0) / span) * W;
    s.append(el("line", { x1: x, x2: x, y1: 0, y2: 26, stroke: "#1d232b", "stroke-width": 1 }));
  }
  s.append(el("text", { x: 0, y: 37 }, new Date(t0).toLocaleTimeString()));
  s.append(el("text", { x: W - 2, y: 37, "text-anchor": "end" }, new Date(t1).toLocaleTimeString()));
  return s;
}

function queriesTable(queries) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  for (const h of ["query shape", "adapter", "hits", "misses", "hit ratio", "joined", "loads", "stored", "invalidated", "avg load", "tables"]) {
    const th = document.createElement("th"); th.textContent = h; head.append(th);
  }
  const body = t.createTBody();
  for (const q of queries) {
    const row = body.insertRow();
    const cells = [q.shape, q.adapter, fmtInt(q.hits), fmtInt(q.misses), pct(ratio(q.hits, q.misses)), fmtInt(q.joined),
      fmtInt(q.loads), fmtInt(q.stored), fmtInt(q.invalidated), fmtMs(q.loads ? q.loadMsTotal / q.loads : null), q.tables.join(", ")];
    cells.forEach((c, i) => { const td = row.insertCell(); td.textContent = c; if (i === 0) { td.className = "shape"; td.title = q.shape; } });
  }
  return t;
}

function render(data) {
  document.title = data.title;
  $("title").textContent = data.title;
  const st = data.stats;
  const badge = $("state");
  badge.textContent = data.state + (data.source.kind ? " · " + data.source.kind : "");
  badge.className = "badge " + data.state;
  setKpi("kpi-ratio", ratio(st.hits, st.misses) ?? "", pct(ratio(st.hits, st.misses)));
  setKpi("kpi-hits", st.hits, fmtInt(st.hits));
  setKpi("kpi-misses", st.misses, fmtInt(st.misses));
  setKpi("kpi-loads", st.loads, fmtInt(st.loads));
  setKpi("kpi-entries", st.entries, fmtInt(st.entries));
  setKpi("kpi-bytes", st.bytes, fmtBytes(st.bytes));
  setKpi("kpi-invalidations", st.invalidations, fmtInt(st.invalidations));
  setKpi("kpi-events", st.eventsReceived, fmtInt(st.eventsReceived));
  setKpi("kpi-bypassed", st.bypassed, fmtInt(st.bypassed));
  setKpi("kpi-reconnects", st.reconnects, fmtInt(st.reconnects));
  setKpi("kpi-p99", st.p99EventLatencyMs ?? "", fmtMs(st.p99EventLatencyMs));
  replace("chart-ratio", data.series.length > 1 ? hitRatioChart(data.series) : empty("collecting samples…"));
  const invalidated = data.tables.filter((t) => t.invalidations > 0);
  replace("chart-invalidations", invalidated.length ? hbars(invalidated.slice(0, 12).map((t) => ({ label: t.table, values: [t.invalidations, t.entriesDropped] })),
    [{ color: "#c0392b", format: (n) => plural(n, "invalidation") }, { color: "#e6a39b", format: (n) => fmtInt(n) + " dropped" }]) : empty("no table invalidated yet"));
  replace("chart-latency", data.eventLatency.count ? latencyChart(data.eventLatency) : empty("no change event with a server timestamp yet"));
  $("latency-note").textContent = data.eventLatency.count ? plural(data.eventLatency.count, "event") + ", mean " + fmtMs(data.eventLatency.meanMs) + ", max " + fmtMs(data.eventLatency.maxMs) + " (server timestamp to arrival)" : "";
  const cachedTables = data.tables.filter((t) => t.entries > 0).sort((a, b) => b.bytes - a.bytes);
  replace("chart-tables", cachedTables.length ? hbars(cachedTables.slice(0, 12).map((t) => ({ label: t.table, values: [t.entries, t.bytes] })),
    [{ color: "#2f6fdf", format: (n) => plural(n, "entry").replace(/entrys$/, "entries") }, { color: "#8e6bd8", format: fmtBytes }]) : empty("nothing cached"));
  replace("chart-source", sourceStrip(data));
  $("source-note").textContent = "reconnects " + fmtInt(data.source.reconnects) + " · losses " + fmtInt(data.source.losses) +
    " · malformed events " + fmtInt(st.malformedEvents) +
    (st.notifyQueueUsage === null ? "" : " · NOTIFY queue " + (st.notifyQueueUsage * 100).toFixed(3) + "% used") + " · bypassed: no key " + fmtInt(data.bypasses["no-key"]) +
    ", transaction " + fmtInt(data.bypasses.transaction) + ", not serving " + fmtInt(data.bypasses["not-serving"]);
  replace("queries", data.queries.length ? queriesTable(data.queries) : empty("no cached read yet"));
  $("shapes-note").textContent = data.shapesTracked + " shapes tracked; a caller that joined a load in flight counts as a miss (and as joined)";
  $("updated").textContent = "updated " + new Date(data.now).toLocaleTimeString();
}

async function tick() {
  try {
    const response = await fetch("?data", { cache: "no-store", headers: { accept: "application/json" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    $("error").style.display = "none";
  } catch (error) {
    $("error").textContent = "cannot load the data: " + error.message;
    $("error").style.display = "block";
  }
  setTimeout(tick, poll);
}
tick();
`;

/** The page's script digest for its Content-Security-Policy (only this script may run). */
export const INSPECTOR_SCRIPT_HASH = `sha256-${createHash("sha256").update(SCRIPT).digest("base64")}`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function kpi(id: string, label: string): string {
  return `<div class="kpi"><div class="label">${label}</div><div class="value" id="${id}" data-value="">–</div></div>`;
}

/** The HTML document. `pollInterval` in ms. */
export function inspectorPage(title: string, pollInterval: number): string {
  const safeTitle = escapeHtml(title);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${safeTitle}</title><style>${STYLE}</style></head>
<body data-poll="${Math.max(100, Math.floor(pollInterval))}">
<header><h1 id="title">${safeTitle}</h1><span id="state" class="badge">…</span><span id="updated"></span></header>
<main>
<div id="error"></div>
<div class="kpis">
${kpi("kpi-ratio", "hit ratio")}${kpi("kpi-hits", "hits")}${kpi("kpi-misses", "misses")}${kpi("kpi-loads", "loads")}
${kpi("kpi-entries", "entries")}${kpi("kpi-bytes", "bytes")}${kpi("kpi-invalidations", "invalidations")}
${kpi("kpi-events", "change events")}${kpi("kpi-bypassed", "bypassed")}${kpi("kpi-reconnects", "reconnects")}
${kpi("kpi-p99", "event latency p99")}
</div>
<section><h2>Hit ratio over time</h2><div id="chart-ratio"></div>
<div class="legend"><span><i style="background:#1f9d55"></i>hit ratio per sample</span><span><i style="background:#2f6fdf;opacity:.3"></i>reads</span></div></section>
<section><h2>Invalidations per table</h2><div id="chart-invalidations"></div></section>
<section><h2>Event latency distribution (ms)</h2><div id="chart-latency"></div><div class="legend" id="latency-note"></div></section>
<section><h2>Entries and bytes per table</h2><div id="chart-tables"></div></section>
<section class="wide"><h2>Change source</h2><div id="chart-source"></div><div class="legend" id="source-note"></div></section>
<section class="wide"><h2>Top query shapes</h2><div id="queries"></div><div class="legend" id="shapes-note"></div></section>
</main>
<script>${SCRIPT}</script>
</body></html>`;
}

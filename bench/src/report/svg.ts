import type { ChartPanel } from "../result.js";

const WIDTH = 1000;
const LABEL_WIDTH = 300;
const VALUE_WIDTH = 90;
const BAR = 14;
const BAR_GAP = 3;
const GROUP_GAP = 10;
const PANEL_HEADER = 46;
const PANEL_FOOTER = 28;
const COLORS = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2"];

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function compact(value: number, unit: string): string {
  if (unit === "ns") {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)} ms`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)} µs`;
    return `${value.toFixed(0)} ns`;
  }
  if (unit === "ms") return value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return value >= 100 ? value.toFixed(0) : value.toFixed(2);
}

/** One panel of horizontal grouped bars; returns its SVG and height. */
function panel(chart: ChartPanel, top: number): { svg: string; height: number } {
  const plotLeft = LABEL_WIDTH;
  const plotWidth = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20;
  const values = chart.groups.flatMap((g) => g.values).filter((v): v is number => v !== undefined && v > 0);
  const max = Math.max(1e-9, ...values);
  const min = Math.min(max, ...values);
  const lo = chart.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = chart.log ? 10 ** Math.ceil(Math.log10(max)) : max * 1.05;
  const x = (v: number) =>
    chart.log
      ? ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.max(1e-9, Math.log10(hi) - Math.log10(lo))) *
        plotWidth
      : (v / hi) * plotWidth;
  const groupHeight = chart.series.length * (BAR + BAR_GAP) + GROUP_GAP;
  const height = PANEL_HEADER + chart.groups.length * groupHeight + PANEL_FOOTER;
  const parts: string[] = [`<g transform="translate(0,${top})">`];
  parts.push(`<text x="10" y="20" class="title">${escapeXml(chart.title)}</text>`);
  let legendX = plotLeft;
  chart.series.forEach((name, i) => {
    parts.push(`<rect x="${legendX}" y="28" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${legendX + 14}" y="37" class="small">${escapeXml(name)}</text>`);
    legendX += 22 + name.length * 6.5;
  });
  const plotTop = PANEL_HEADER;
  const plotBottom = height - PANEL_FOOTER;
  // Grid: decades on a log axis, fifths on a linear one.
  const ticks: number[] = [];
  if (chart.log) for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  else for (let i = 0; i <= 5; i++) ticks.push((hi / 5) * i);
  for (const t of ticks) {
    const tx = plotLeft + x(t);
    parts.push(`<line x1="${tx}" y1="${plotTop - 4}" x2="${tx}" y2="${plotBottom}" class="grid"/>`);
    parts.push(
      `<text x="${tx}" y="${plotBottom + 14}" class="small" text-anchor="middle">${escapeXml(compact(t, chart.unit))}</text>`,
    );
  }
  chart.groups.forEach((group, g) => {
    const groupTop = plotTop + g * groupHeight;
    const labelY = groupTop + (chart.series.length * (BAR + BAR_GAP)) / 2 + 4;
    parts.push(
      `<text x="${plotLeft - 8}" y="${labelY}" class="label" text-anchor="end">${escapeXml(group.label)}</text>`,
    );
    group.values.forEach((value, s) => {
      const y = groupTop + s * (BAR + BAR_GAP);
      if (value === undefined || !Number.isFinite(value)) return;
      const w = Math.max(1, x(value));
      parts.push(
        `<rect x="${plotLeft}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${COLORS[s % COLORS.length]}"><title>${escapeXml(
          `${group.label} - ${chart.series[s] ?? ""}: ${compact(value, chart.unit)}`,
        )}</title></rect>`,
      );
      parts.push(
        `<text x="${plotLeft + w + 4}" y="${y + BAR - 3}" class="small">${escapeXml(compact(value, chart.unit))}</text>`,
      );
    });
  });
  parts.push(
    `<text x="${WIDTH - 10}" y="${plotBottom + 14}" class="small" text-anchor="end">${escapeXml(chart.unit)}${chart.log ? " (log)" : ""}</text>`,
  );
  parts.push("</g>");
  return { svg: parts.join("\n"), height };
}

const LINE_PLOT_HEIGHT = 260;

/** One panel of lines over ordered x points (the groups); returns its SVG and height. */
function linePanel(chart: ChartPanel, top: number): { svg: string; height: number } {
  const plotLeft = 80;
  const plotWidth = WIDTH - plotLeft - 40;
  const values = chart.groups.flatMap((g) => g.values).filter((v): v is number => v !== undefined && v > 0);
  const max = Math.max(1e-9, ...values);
  const min = Math.min(max, ...values);
  const lo = chart.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = chart.log ? 10 ** Math.ceil(Math.log10(max)) : max * 1.05;
  const legendRows = Math.ceil(chart.series.length / 3);
  const plotTop = PANEL_HEADER + (legendRows - 1) * 14;
  const plotBottom = plotTop + LINE_PLOT_HEIGHT;
  const height = plotBottom + PANEL_FOOTER + 14;
  const y = (v: number) => {
    const share = chart.log
      ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.max(1e-9, Math.log10(hi) - Math.log10(lo))
      : v / hi;
    return plotBottom - share * LINE_PLOT_HEIGHT;
  };
  const points = chart.groups.length;
  const x = (i: number) => plotLeft + (points <= 1 ? plotWidth / 2 : (i / (points - 1)) * plotWidth);
  const parts: string[] = [`<g transform="translate(0,${top})">`];
  parts.push(`<text x="10" y="20" class="title">${escapeXml(chart.title)}</text>`);
  chart.series.forEach((name, i) => {
    const lx = plotLeft + (i % 3) * 300;
    const ly = 28 + Math.floor(i / 3) * 14;
    parts.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly + 9}" class="small">${escapeXml(name)}</text>`);
  });
  const ticks: number[] = [];
  if (chart.log) for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  else for (let i = 0; i <= 5; i++) ticks.push((hi / 5) * i);
  for (const t of ticks) {
    const ty = y(t);
    parts.push(`<line x1="${plotLeft}" y1="${ty}" x2="${plotLeft + plotWidth}" y2="${ty}" class="grid"/>`);
    parts.push(
      `<text x="${plotLeft - 6}" y="${ty + 3}" class="small" text-anchor="end">${escapeXml(compact(t, chart.unit))}</text>`,
    );
  }
  chart.groups.forEach((group, i) => {
    parts.push(`<line x1="${x(i)}" y1="${plotTop}" x2="${x(i)}" y2="${plotBottom}" class="grid"/>`);
    parts.push(
      `<text x="${x(i)}" y="${plotBottom + 14}" class="small" text-anchor="middle">${escapeXml(group.label)}</text>`,
    );
  });
  chart.series.forEach((name, s) => {
    const color = COLORS[s % COLORS.length];
    const drawn = chart.groups
      .map((group, i) => ({ i, value: group.values[s], label: group.label }))
      .filter(
        (p): p is { i: number; value: number; label: string } =>
          p.value !== undefined && Number.isFinite(p.value),
      );
    if (drawn.length > 1) {
      const path = drawn.map((p) => `${x(p.i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
      parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const p of drawn) {
      parts.push(
        `<circle cx="${x(p.i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(
          `${name} at ${p.label}: ${compact(p.value, chart.unit)}`,
        )}</title></circle>`,
      );
    }
  });
  parts.push(
    `<text x="${plotLeft + plotWidth / 2}" y="${plotBottom + 30}" class="small" text-anchor="middle">${escapeXml(chart.xLabel ?? "")}</text>`,
  );
  parts.push(
    `<text x="${plotLeft}" y="${plotTop - 6}" class="small" text-anchor="end">${escapeXml(chart.unit)}${chart.log ? " (log)" : ""}</text>`,
  );
  parts.push("</g>");
  return { svg: parts.join("\n"), height };
}

/** All panels stacked in one self-contained SVG (opens in any browser). */
export function svgReport(title: string, subtitle: string, charts: ChartPanel[]): string {
  let top = 60;
  const bodies: string[] = [];
  for (const chart of charts) {
    const { svg, height } = chart.kind === "lines" ? linePanel(chart, top) : panel(chart, top);
    bodies.push(svg);
    top += height + 16;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${top}" viewBox="0 0 ${WIDTH} ${top}" font-family="system-ui, sans-serif">`,
    "<style>.title{font-size:15px;font-weight:600}.label{font-size:12px}.small{font-size:10px;fill:#444}.grid{stroke:#ddd;stroke-width:1}</style>",
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="24" font-size="18" font-weight="700">${escapeXml(title)}</text>`,
    `<text x="10" y="44" class="small">${escapeXml(subtitle)}</text>`,
    ...bodies,
    "</svg>",
    "",
  ].join("\n");
}

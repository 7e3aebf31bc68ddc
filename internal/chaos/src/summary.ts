import type { ChaosSummary } from "./run-chaos.js";

function row(label: string, value: string | number, note = ""): string {
  return `| ${label.padEnd(26)} | ${String(value).padStart(12)} | ${note.padEnd(58)} |`;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

/** The summary table both the CI run and `pnpm chaos` print. */
export function formatSummary(summary: ChaosSummary): string {
  const c = summary.checker;
  const e = summary.engine;
  const latency = c.deliveryLatencyMs;
  const byPath = Object.entries(c.readsBy)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const byKind = Object.entries(summary.faultsByKind)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const rule = `|${"-".repeat(28)}|${"-".repeat(14)}|${"-".repeat(60)}|`;
  const lines = [
    `chaos summary: ${summary.label} (${summary.server}, ${(summary.durationMs / 1000).toFixed(0)} s)`,
    rule,
    row("reads checked", c.readsChecked, `${c.rowsChecked} rows; ${byPath}`),
    row(
      "stale reads",
      c.staleReads,
      `after delivery ${c.staleAfterDelivery}, beyond ${c.staleAfterMs} ms ${c.staleBeyondBound}`,
    ),
    row("worst staleness", ms(c.worstStalenessMs), `bound ${c.staleAfterMs} ms (rule B)`),
    row("faults injected", summary.faultsInjected, byKind),
    row("faults mishandled", summary.faultFailures.length, summary.faultFailures[0]?.detail ?? ""),
    row("reconnects survived", e.reconnects, `losses ${e.losses}`),
    row("writes committed", c.writesCommitted, `failed ${c.writeErrors} (server down or connection killed)`),
    row(
      "delivery latency",
      latency ? ms(latency.p99) : "-",
      latency
        ? `p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)}, max ${ms(latency.max)}`
        : "no marker delivered",
    ),
    row("read errors", c.readErrors, "reads that failed (server down): not checked"),
    row(
      "cache hits / loads",
      `${e.hits}/${e.loads}`,
      `bypassed ${e.bypassed}, fills rejected ${e.fillsRejected}`,
    ),
    row("malformed payloads", e.malformedEvents, "counted and skipped by the engine"),
    row("listener connections", summary.listenerConnections, "on the server at the end (must be 1)"),
    row(
      "read paths caching",
      `${summary.cachingPaths.length}/${summary.readPaths.length}`,
      summary.readPaths.filter((p) => !summary.cachingPaths.includes(p)).join(", ") ||
        "every path served hits",
    ),
    row(
      "final check",
      summary.settled ? "passed" : "FAILED",
      "a write per row delivered, then read through every path",
    ),
    rule,
  ];
  for (const v of c.violations.slice(0, 5)) {
    lines.push(
      `  stale: ${v.rule} via ${v.via} row ${v.id} saw v${v.sawVersion}` +
        (v.deliveredVersion !== undefined ? ` after v${v.deliveredVersion} was delivered` : "") +
        (v.ageMs !== undefined ? `, ${ms(v.ageMs)} behind` : ""),
    );
  }
  for (const f of summary.faultFailures.slice(0, 5)) lines.push(`  fault mishandled: ${f.kind}: ${f.detail}`);
  return lines.join("\n");
}

/** True when the run found nothing wrong. */
export function chaosPassed(summary: ChaosSummary): boolean {
  return (
    summary.checker.staleReads === 0 &&
    summary.faultFailures.length === 0 &&
    summary.listenerConnections === 1 &&
    summary.settled &&
    summary.cachingPaths.length === summary.readPaths.length
  );
}

/** A table as printed and as written to the Markdown report. */
export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

/**
 * A chart panel in the SVG. Bars (default): one group per label, one bar per series. Lines: the
 * groups are the points of the x axis in order, one line per series.
 */
export interface ChartPanel {
  title: string;
  kind?: "bars" | "lines";
  /** Name of the x axis (lines). */
  xLabel?: string;
  unit: string;
  /** Log scale for values spanning orders of magnitude (latencies). */
  log: boolean;
  series: string[];
  groups: { label: string; values: (number | undefined)[] }[];
}

/** A target from the issue, reported and never asserted. */
export interface TargetResult {
  target: string;
  measured: string;
  /** undefined: not measured in this run. */
  met: boolean | undefined;
}

export interface SectionResult {
  id: string;
  title: string;
  /** What was measured and how, in one or two sentences. */
  method: string;
  tables: Table[];
  charts: ChartPanel[];
  targets: TargetResult[];
  notes: string[];
}

export function section(id: string, title: string, method: string): SectionResult {
  return { id, title, method, tables: [], charts: [], targets: [], notes: [] };
}

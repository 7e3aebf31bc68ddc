import type { SectionResult, Table } from "../result.js";

/** A table as aligned plain text, for the terminal. */
export function textTable(table: Table): string {
  const widths = table.columns.map((c, i) =>
    Math.max(c.length, ...table.rows.map((r) => (r[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    `${table.title}`,
    line(table.columns),
    line(widths.map((w) => "-".repeat(w))),
    ...table.rows.map(line),
  ].join("\n");
}

export function textSection(section: SectionResult): string {
  const parts = [`== ${section.title}`, ...section.tables.map(textTable)];
  for (const note of section.notes) parts.push(`note: ${note}`);
  return parts.join("\n\n");
}

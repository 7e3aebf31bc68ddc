import type { ReturnedRows } from "./returned-rows.js";
import { bindConstraint, canonical } from "./row-tags.js";
import type { RowWrite, WriteColumn, WriteSource } from "./statement-analysis.js";

/** More values than this for one column of one write: that column is unknown (its entries drop column-wide). */
export const MAX_WRITE_VALUES = 1_000;

/**
 * What a write through the engine changed, in the form of a change event's `columns` (see
 * ChangeEvent): for each column it can name, the values of the rows it changed, old and new. A
 * column it cannot name is left out; undefined when it names none (then the whole table). The
 * engine turns this into tags exactly as it does an event's.
 */
export function writtenColumns(
  write: RowWrite,
  params: readonly unknown[] | undefined,
  returned: ReturnedRows | undefined,
): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  let named = 0;
  for (const column of write.columns) {
    const values = columnValues(write, column, params, returned);
    if (values === undefined) continue;
    out[column.column] = values;
    named++;
  }
  return named === 0 ? undefined : out;
}

function columnValues(
  write: RowWrite,
  column: WriteColumn,
  params: readonly unknown[] | undefined,
  returned: ReturnedRows | undefined,
): string[] | undefined {
  const values = new Set<string>();
  for (const part of column.parts) {
    let found: string[] | undefined;
    for (const source of part) {
      found = sourceValues(write, column, source, params, returned);
      if (found !== undefined) break;
    }
    if (found === undefined) return undefined;
    for (const value of found) values.add(value);
    if (values.size > MAX_WRITE_VALUES) return undefined;
  }
  return [...values];
}

function sourceValues(
  write: RowWrite,
  column: WriteColumn,
  source: WriteSource,
  params: readonly unknown[] | undefined,
  returned: ReturnedRows | undefined,
): string[] | undefined {
  if ("values" in source) {
    const bound = bindConstraint(
      { table: write.table, column: column.column, type: column.type, values: source.values },
      params,
    );
    // A varchar(n) column drops trailing spaces past n on assignment: the stored text may differ.
    if (column.type === "text" && bound?.some((value) => value.endsWith(" "))) return undefined;
    return bound;
  }
  const raw = returned?.column(source.returned);
  if (raw === undefined) return undefined;
  const out: string[] = [];
  for (const value of raw) {
    // NULL equals nothing: no read constrained by value holds the row through this column.
    if (value === null) continue;
    const text = canonical(value, column.type);
    if (text === undefined) return undefined;
    out.push(text);
  }
  return out;
}

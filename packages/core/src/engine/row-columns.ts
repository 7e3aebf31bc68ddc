import { type TableRef, tableTag } from "../events/table-name.js";
import { columnTag, rowTag, tableWideTags } from "./row-tags.js";

/**
 * The columns that row-level dependencies of each table are constrained on, so a change event
 * turns into the tags it drops in one lookup per (column, value): the table's whole-table
 * dependents, the entries whose constraint values it carries, and every entry constrained on a
 * column it carries no values for. Grows with the columns queries filter on (bounded by the
 * schema), never with the values.
 */
export class RowColumns {
  readonly #columns = new Map<string, Set<string>>();

  add(table: TableRef, column: string): void {
    const key = tableTag(table);
    let columns = this.#columns.get(key);
    if (columns === undefined) {
      columns = new Set();
      this.#columns.set(key, columns);
    }
    columns.add(column);
  }

  /** The tags a change to `table` drops; `columns` undefined: the whole table changed. */
  tagsOfChange(table: TableRef, columns: Readonly<Record<string, readonly string[]>> | undefined): string[] {
    const tag = tableTag(table);
    if (columns === undefined) return tableWideTags(table);
    const tags = [tag];
    const constrained = this.#columns.get(tag);
    if (constrained === undefined) return tags;
    for (const column of constrained) {
      const values = Object.hasOwn(columns, column) ? columns[column] : undefined;
      if (values === undefined) tags.push(columnTag(table, column));
      else for (const value of values) tags.push(rowTag(table, column, value));
    }
    return tags;
  }
}

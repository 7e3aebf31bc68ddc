import type { TableRef } from "@pgcachewatch/core";

/** A set of tables keyed by schema and name (a NUL cannot occur in identifiers). */
export class TableSet {
  readonly #tables = new Map<string, TableRef>();

  static of(tables: Iterable<TableRef>): TableSet {
    const set = new TableSet();
    for (const t of tables) set.add(t);
    return set;
  }

  add(table: TableRef): void {
    this.#tables.set(`${table.schema}\u0000${table.table}`, table);
  }

  addAll(tables: Iterable<TableRef>): void {
    for (const t of tables) this.add(t);
  }

  has(table: TableRef): boolean {
    return this.#tables.has(`${table.schema}\u0000${table.table}`);
  }

  /** The tables of `other` that are not in this set. */
  missing(other: Iterable<TableRef>): TableRef[] {
    const out: TableRef[] = [];
    for (const t of other) if (!this.has(t)) out.push(t);
    return out;
  }

  get size(): number {
    return this.#tables.size;
  }

  toArray(): TableRef[] {
    return [...this.#tables.values()];
  }
}

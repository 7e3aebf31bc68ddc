import { type TableRef, tableTag } from "../events/table-name.js";
import { anyRowTag, bindConstraint, columnTag, rowTag } from "./row-tags.js";
import { isPromise, type RowConstraint, type StatementAnalysis } from "./statement-analysis.js";

export type Dependencies =
  | { readonly tags: string[]; readonly problem?: undefined }
  | { readonly problem: string };

/**
 * What one load read, gathered from the statements it ran (analysed as they are sent) and the
 * tables its caller declared. Decided at fill time: the result is stored under these tags, or
 * not at all when the statements say it cannot be (a write, a transaction, an opaque statement
 * without declared tables, a session-dependent one without a scope).
 */
export class DependencyCollector {
  readonly #tags: Set<string>;
  readonly #declaredTables: boolean;
  readonly #scoped: boolean;
  readonly #onTags: (tags: readonly string[]) => void;
  readonly #onRowColumn: (table: TableRef, column: string) => void;
  #statements = 0;
  #problem: string | undefined;
  #pending: Promise<unknown>[] | undefined;

  /**
   * @param declared tags of the tables (and user tags) the caller named
   * @param declaredTables whether the caller named tables (then opaque statements are covered by them)
   * @param onTags called with tags learned while the load runs (the flight index)
   */
  constructor(
    declared: readonly string[],
    declaredTables: boolean,
    scoped: boolean,
    onTags: (tags: readonly string[]) => void,
    onRowColumn: (table: TableRef, column: string) => void = () => {},
  ) {
    this.#tags = new Set(declared);
    this.#declaredTables = declaredTables;
    this.#scoped = scoped;
    this.#onTags = onTags;
    this.#onRowColumn = onRowColumn;
  }

  /** A statement the load is about to send; `inTransaction`: its connection is inside a transaction. */
  record(
    analysis: StatementAnalysis | Promise<StatementAnalysis>,
    inTransaction: boolean,
    params?: readonly unknown[],
  ): void {
    this.#statements++;
    if (inTransaction) this.#refuse("a statement ran inside a transaction");
    if (isPromise(analysis)) {
      const pending = analysis.then(
        (done) => this.#take(done, params),
        (error: unknown) => this.#refuse(`analysis failed: ${(error as Error).message}`),
      );
      this.#pending ??= [];
      this.#pending.push(pending);
      return;
    }
    this.#take(analysis, params);
  }

  /** The load could not analyse a statement it ran. */
  refuse(problem: string): void {
    this.#statements++;
    this.#refuse(problem);
  }

  /** Tags of a cached entry this load read (a nested cached read that hit). */
  addTags(tags: readonly string[]): void {
    const added: string[] = [];
    for (const tag of tags) {
      if (!this.#tags.has(tag)) {
        this.#tags.add(tag);
        added.push(tag);
      }
    }
    if (added.length > 0) this.#onTags(added);
  }

  /** The dependencies to store under, or why not to store; a Promise while analyses are pending. */
  finish(): Dependencies | Promise<Dependencies> {
    if (this.#pending !== undefined) {
      const pending = this.#pending;
      this.#pending = undefined;
      return Promise.all(pending).then(() => this.finish());
    }
    if (this.#problem !== undefined) return { problem: this.#problem };
    if (this.#statements === 0 && !this.#declaredTables) {
      return { problem: "no statement was reported and no tables were named" };
    }
    return { tags: [...this.#tags] };
  }

  #take(analysis: StatementAnalysis, params: readonly unknown[] | undefined): void {
    if (analysis.transaction !== undefined) this.#refuse("the load controls a transaction");
    if (analysis.writes.length > 0) this.#refuse("the load writes");
    if (analysis.opaque !== undefined && !this.#declaredTables) this.#refuse(analysis.opaque);
    if (analysis.sessionDependent !== undefined && !this.#scoped) {
      this.#refuse(`${analysis.sessionDependent} (give the read a scope to cache it per scope)`);
    }
    if (analysis.reads.length === 0) return;
    const rows = analysis.rowReads;
    if (rows === undefined || rows.length === 0) {
      this.addTags(analysis.reads.map(tableTag));
      return;
    }
    const tags: string[] = [];
    for (const table of analysis.reads) tags.push(...this.#tagsOfRead(table, rows, params));
    this.addTags(tags);
  }

  /** A table's tags: its rows when a constraint binds, else the whole table. */
  #tagsOfRead(
    table: TableRef,
    rows: readonly RowConstraint[],
    params: readonly unknown[] | undefined,
  ): string[] {
    const constraint = rows.find(
      (row) => row.table.schema === table.schema && row.table.table === table.table,
    );
    const values = constraint === undefined ? undefined : bindConstraint(constraint, params);
    if (constraint === undefined || values === undefined) return [tableTag(table)];
    // Registered before the statement is sent, so an event from now on knows to test this column.
    this.#onRowColumn(table, constraint.column);
    const tags = [anyRowTag(table), columnTag(table, constraint.column)];
    for (const value of values) tags.push(rowTag(table, constraint.column, value));
    return tags;
  }

  #refuse(problem: string): void {
    this.#problem ??= problem;
  }
}

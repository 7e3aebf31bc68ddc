export type ChangeOperation = "insert" | "update" | "delete" | "truncate";

export const CHANGE_OPERATIONS: readonly ChangeOperation[] = ["insert", "update", "delete", "truncate"];

/** One change PostgreSQL told us about: a statement on a table, committed by anyone. */
export interface ChangeEvent {
  /** Schema of the table, as PostgreSQL spells it (case preserved, unquoted). */
  readonly schema: string;
  /** Table name, as PostgreSQL spells it (case preserved, unquoted). */
  readonly table: string;
  readonly operation: ChangeOperation;
  /** Primary-key values of changed rows, when the source knows them (WAL source with replica identity). */
  readonly keys?: readonly Record<string, unknown>[];
  /**
   * Row-level invalidation: for each column the event carries, the distinct values (PostgreSQL's
   * text output) the changed rows had before and after the change. A column not listed is
   * unknown (every entry constrained on it is dropped); undefined: the whole table changed.
   */
  readonly columns?: Readonly<Record<string, readonly string[]>>;
  /** When the server produced the event (ms since epoch), if the source says. */
  readonly sentAt?: number;
  /** When this process received it (ms since epoch). */
  readonly receivedAt: number;
}

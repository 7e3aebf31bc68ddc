import type { TableRef } from "../events/table-name.js";

/** One value of a row constraint: a literal (PostgreSQL's text form) or a parameter to bind. */
export type ConstraintValue =
  | { readonly literal: string }
  /** `$n` (1-based); `array`: `= ANY($n)`, each element is a value. */
  | { readonly param: number; readonly array?: boolean };

/**
 * Every row of `table` the result depends on has `column` equal to one of `values`: a write
 * to other rows cannot change the result. Only for columns whose equality is equality of text
 * (integers, uuid, text under a deterministic collation), named by `type`.
 */
export interface RowConstraint {
  readonly table: TableRef;
  readonly column: string;
  readonly type: "int" | "uuid" | "text";
  readonly values: readonly ConstraintValue[];
}

/** Where values of a written column come from: the statement's text (to bind), or a RETURNING output. */
export type WriteSource =
  | { readonly values: readonly ConstraintValue[] }
  /** The output column of that name in the rows the statement returned. */
  | { readonly returned: string };

/**
 * A column of a written table whose values (old and new) the statement can name. Every part must
 * give values (an UPDATE of the column: its old values and its new ones); within a part, the
 * first source that gives them is used. A column not listed is unknown: every entry constrained
 * on it is dropped, as for a change event without values for it.
 */
export interface WriteColumn {
  readonly column: string;
  readonly type: RowConstraint["type"];
  readonly parts: readonly (readonly WriteSource[])[];
}

/** A write target whose changed rows the statement can name column by column (read-your-writes per row). */
export interface RowWrite {
  readonly table: TableRef;
  readonly columns: readonly WriteColumn[];
}

/** What the engine needs to know about one SQL text that ran (see analysis/: PostgreSQL's parser and catalog). */
export interface StatementAnalysis {
  /** Base tables read (views expanded, a partitioned table with its partitions). */
  readonly reads: readonly TableRef[];
  /** Reads of `reads` that depend only on some rows; the other tables of `reads` depend on every row. */
  readonly rowReads?: readonly RowConstraint[];
  readonly writes: readonly TableRef[];
  /** Targets of `writes` whose changed rows can be named; the other tables of `writes` change as a whole. */
  readonly rowWrites?: readonly RowWrite[];
  /** Why the reads alone cannot describe the result (a volatile function, a materialized view, ...). */
  readonly opaque: string | undefined;
  /** Why the result may differ per role or session (row-level security, current_user, current_setting). */
  readonly sessionDependent: string | undefined;
  readonly transaction: "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollback-to" | undefined;
  /** What the (last) statement is: only a "select" may be shared between callers. */
  readonly kind?: string;
  /** COMMIT/ROLLBACK AND CHAIN: a new transaction begins as the old one ends. */
  readonly chained?: true;
  /** The statement changes the schema (DDL, GRANT): the catalog is reloaded once it ran. */
  readonly schemaChange?: true;
}

export interface AnalysisContext {
  /** The search_path of the connection the statement ran on (raw setting text). */
  readonly searchPath?: string;
  /** The role `"$user"` in the search_path stands for, when it is not the catalog connection's. */
  readonly user?: string;
}

/** The analyzer as the engine uses it: synchronous when memoised or the catalog is known. */
export interface StatementAnalyzer {
  analyze(sql: string, context?: AnalysisContext): StatementAnalysis | Promise<StatementAnalysis>;
  /** The schema changed (or the source reconnected): reload the catalog before the next analysis. */
  invalidateCatalog(): void;
  /** Parses, memo hits and catalog loads so far. */
  readonly counters?: { readonly parses: number; readonly memoHits: number; readonly catalogLoads: number };
  close(): Promise<void>;
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

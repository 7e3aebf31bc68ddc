import type { TableRef } from "../events/table-name.js";

/** What the engine needs to know about one SQL text that ran (see analysis/: PostgreSQL's parser and catalog). */
export interface StatementAnalysis {
  /** Base tables read (views expanded, a partitioned table with its partitions). */
  readonly reads: readonly TableRef[];
  readonly writes: readonly TableRef[];
  /** Why the reads alone cannot describe the result (a volatile function, a materialized view, ...). */
  readonly opaque: string | undefined;
  /** Why the result may differ per role or session (row-level security, current_user, current_setting). */
  readonly sessionDependent: string | undefined;
  readonly transaction: "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollback-to" | undefined;
}

export interface AnalysisContext {
  /** The search_path of the connection the statement ran on (raw setting text). */
  readonly searchPath?: string;
}

/** The analyzer as the engine uses it: synchronous when memoised or the catalog is known. */
export interface StatementAnalyzer {
  analyze(sql: string, context?: AnalysisContext): StatementAnalysis | Promise<StatementAnalysis>;
  /** The schema changed (or the source reconnected): reload the catalog before the next analysis. */
  invalidateCatalog(): void;
  close(): Promise<void>;
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

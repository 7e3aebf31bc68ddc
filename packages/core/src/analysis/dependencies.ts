import type { RowConstraint, RowWrite } from "../engine/statement-analysis.js";
import type { TableRef } from "../events/table-name.js";
import type { StatementKind, TransactionControl } from "./statement-facts.js";

export type { StatementKind, TransactionControl } from "./statement-facts.js";

/** What a SQL text depends on and does, as PostgreSQL's parser and the catalog see it. */
export interface StatementDependencies {
  /**
   * Base tables read: views expanded to their base tables recursively; a partitioned (or
   * inheritance parent) table as itself and all its partitions; a partition (or child) read
   * directly as itself and its ancestors, because a write through the parent is reported on the
   * parent.
   */
  readonly reads: readonly TableRef[];
  /** Tables of `reads` whose dependency is only the rows where a column has one of some values (row-level invalidation). */
  readonly rowReads?: readonly RowConstraint[];
  /**
   * Tables written: INSERT/UPDATE/DELETE/MERGE targets (data-modifying CTEs included), COPY FROM,
   * TRUNCATE. A partitioned target counts with its partitions; a write through an updatable view
   * counts as a write to its base tables.
   */
  readonly writes: readonly TableRef[];
  /**
   * Targets of `writes` whose changed rows the statement names, column by column (WHERE, SET,
   * VALUES, RETURNING); the other tables of `writes` change as a whole (foreign-key actions,
   * rules, triggers, partitions, views, shapes that name no rows).
   */
  readonly rowWrites?: readonly RowWrite[];
  /** Why the result cannot be cached from these reads alone; undefined when dependencies are fully known. */
  readonly opaque: string | undefined;
  /** Why the result may differ per role or session (row-level security, `current_user`, ...); undefined when it cannot. */
  readonly sessionDependent: string | undefined;
  /** Transaction control, when the text is exactly one such statement. */
  readonly transaction: TransactionControl | undefined;
  /**
   * Present (true) for `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN`: the transaction ends (its writes
   * are committed or undone) and a new one starts at once, so the connection is still in a transaction.
   */
  readonly chained?: true;
  /** Kind of the (last) statement. */
  readonly kind: StatementKind;
  /** Present (true) when a statement changes the schema (DDL, GRANT): the catalog should be invalidated once it ran. */
  readonly schemaChange?: true;
}

/** How the connection the SQL ran on resolves names. */
export interface AnalyzeContext {
  /** The raw search_path setting, e.g. `"$user", public`. Default: the catalog connection's. */
  readonly searchPath?: string;
  /** The role `"$user"` stands for (the connection's current_user). Default: the catalog connection's. */
  readonly user?: string;
}

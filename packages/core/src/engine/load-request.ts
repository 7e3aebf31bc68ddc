import type { ChangeEvent } from "../events/change-event.js";
import type { TableInput, TableRef } from "../events/table-name.js";

/** A cached read as an adapter describes it. Its dependencies come from the statements it runs. */
export interface LoadRequest {
  /** Identifies the result: adapters use the SQL text and its parameters (see `queryKey`). `undefined`: no faithful key exists, so the read is not cached. */
  key: string | undefined;
  /**
   * Tables the result depends on besides those of the statements it runs (see `runStatement`).
   * Naming tables also makes a read cacheable whose statements are opaque (a function, raw text
   * the analyzer cannot see through) or that reports no statement at all (`cached()`).
   */
  tables?: readonly TableInput[];
  /**
   * What the result is specific to beyond the key: a tenant id, a role name. Part of the key.
   * A read whose statements depend on the session (row-level security, `current_user`,
   * `current_setting()`) is cached only with a scope.
   */
  scope?: string;
  /** A read inside a transaction may see uncommitted rows: it neither reads nor fills the cache. */
  inTransaction?: boolean;
  /** Expiry of this entry in ms (overrides the engine's ttl; 0 = none). */
  ttl?: number;
  /** Aborting gives this caller a LoadAbortedError; other callers of the same key are unaffected. */
  signal?: AbortSignal;
  /** Extra tags for manual invalidation with `invalidate({ tags })`. */
  tags?: readonly string[];
  /**
   * The SQL text the loader will run, when the adapter knows it before running: a text that
   * writes, locks or controls a transaction is then never shared by concurrent callers (each
   * runs it) nor stored. Looked up in the analyzer's memo on a miss only.
   */
  statement?: string;
  /**
   * The query's shape for per-query statistics: normalised SQL text or a function's name, never
   * parameter values (a bounded number of shapes is tracked).
   */
  name?: string;
}

/** One SQL statement an adapter is about to send. */
export interface Statement {
  readonly sql: string;
  readonly params?: readonly unknown[];
  /**
   * The connection it runs on (a pg.Client, a PoolClient, a driver's transaction object), so
   * transactions are tracked per connection. Leave it out for a pool that picks a free
   * connection per statement (such a statement is never inside a transaction).
   */
  readonly connection?: object;
  /** The connection's search_path, when it is not the server's default for this role. */
  readonly searchPath?: string;
}

/** What a loader may tell the engine about the result it is producing. */
export interface LoadControl {
  /** Return the result to every waiter but do not store it. */
  doNotStore(): void;
}

/** A write in progress (read-your-writes): complete() once it finished, or after COMMIT inside a transaction. */
export interface Mutation {
  readonly tables: readonly TableRef[];
  /** The write finished: invalidate its tables, plus `extraTables` it turned out to touch. Idempotent. */
  complete(extraTables?: readonly TableInput[]): void;
}

export type InvalidateReason =
  | "change"
  | "mutation"
  | "manual"
  | "listener-lost"
  | "listener-ready"
  | "strategy"
  | "schema"
  | "stop";

export interface InvalidateInfo {
  /** Tables invalidated, as `schema.table`; empty for a flush of everything. */
  tables: readonly string[];
  tags: readonly string[];
  /** Entries dropped. */
  entries: number;
  reason: InvalidateReason;
  /** The change event behind it, for reason "change". */
  event?: ChangeEvent;
  /** True when everything was dropped. */
  all: boolean;
}

/** Why a load's result was returned but not stored. */
export interface UncachedInfo {
  key: string;
  reason: string;
}

export interface CacheWatchEvents {
  change: [event: ChangeEvent];
  invalidate: [info: InvalidateInfo];
  uncached: [info: UncachedInfo];
  ready: [];
  lost: [error: Error];
  error: [error: Error];
}

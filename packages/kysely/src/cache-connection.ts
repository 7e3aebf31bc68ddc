import { type Mutation, queryKey, type TableInput } from "@pgcachewatch/core";
import type {
  AbortableOperationOptions,
  CompiledQuery,
  ControlConnectionProvider,
  DatabaseConnection,
  QueryResult,
} from "kysely";
import type { CacheContext } from "./cache-context.js";
import type { CachedQueryOptions } from "./cached-query-options.js";
import { analyzeQuery, type QueryAnalysis, type QueryTable } from "./query-analysis.js";
import { type QueryPass, takePass } from "./query-pass.js";

/**
 * The connection the wrapped driver hands to Kysely. It is not a pool connection: it acquires one
 * from the wrapped driver only when something must reach the database, so a cache hit does no I/O.
 *
 * - Handed out for one query (a pass was open at acquire time): its first statement, if it is that
 *   query and opted in, is a shareable cached read.
 * - Handed out otherwise (`db.connection()`, `db.transaction()`, a stream): acquires eagerly and
 *   never shares reads: the session may carry state (a transaction, `SET`, temp tables).
 * - Writes bump their tables' generations when they start and invalidate when they complete; inside
 *   a transaction, or after a raw statement on a reserved connection, only when it ends.
 */
export class CacheConnection implements DatabaseConnection {
  readonly #context: CacheContext;
  /** The query this connection was acquired for, if it was acquired for one. */
  readonly #pass: QueryPass | undefined;
  #real: DatabaseConnection | undefined;
  #acquiring: Promise<DatabaseConnection> | undefined;
  #statements = 0;
  #inTransaction = false;
  /** Session state may hide a transaction (a raw BEGIN): complete writes only at release. */
  #deferWrites = false;
  readonly #pendingWrites: Mutation[] = [];
  readonly #running = new Set<Promise<unknown>>();

  constructor(context: CacheContext, pass: QueryPass | undefined) {
    this.#context = context;
    this.#pass = pass;
  }

  async executeQuery<R>(
    compiledQuery: CompiledQuery,
    options?: AbortableOperationOptions,
  ): Promise<QueryResult<R>> {
    const first = this.#statements++ === 0;
    const pass = this.#passFor(compiledQuery, first);
    // The one query this connection was acquired for, as its first statement: nothing else shares the session.
    const single = first && this.#pass !== undefined && pass === this.#pass;
    const analysis = analyzeQuery(compiledQuery.query);
    if (analysis.uncacheable === "write") return this.#executeWrite(compiledQuery, analysis, options);
    // A raw statement on a session that outlives it may have opened a transaction (BEGIN).
    if (analysis.kind === "RawNode" && !single) this.#deferWrites = true;
    const queryOptions = pass?.options;
    if (queryOptions == null || analysis.uncacheable !== undefined)
      return this.#executeHere(compiledQuery, options);
    return this.#executeCached(
      compiledQuery,
      analysis,
      queryOptions,
      single && !this.#inTransaction,
      options,
    );
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize: number,
    options?: AbortableOperationOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    this.#statements++;
    const real = await this.materialize(options);
    yield* real.streamQuery<R>(compiledQuery, chunkSize, options);
  }

  async collectSessionInfo(): Promise<void> {
    // Nothing to cancel before a pool connection is in use; materialize() collects it then.
    await this.#real?.collectSessionInfo?.();
  }

  async cancelQuery(controlConnectionProvider: ControlConnectionProvider): Promise<void> {
    await this.#real?.cancelQuery?.(controlConnectionProvider);
  }

  async killSession(controlConnectionProvider: ControlConnectionProvider): Promise<void> {
    await this.#real?.killSession?.(controlConnectionProvider);
  }

  /** The pool connection behind this one, acquired on first need. */
  materialize(options?: AbortableOperationOptions): Promise<DatabaseConnection> {
    if (this.#real) return Promise.resolve(this.#real);
    this.#acquiring ??= this.#context.driver.acquireConnection(options).then(async (real) => {
      this.#real = real;
      // With a signal Kysely may cancel the query later; the pool connection must know its session.
      if (options?.signal) await real.collectSessionInfo?.();
      return real;
    });
    return this.#acquiring;
  }

  get real(): DatabaseConnection | undefined {
    return this.#real;
  }

  beginTransaction(): void {
    this.#inTransaction = true;
  }

  /** COMMIT or ROLLBACK finished (or failed): the transaction's writes become visible (or vanish). */
  endTransaction(): void {
    this.#inTransaction = false;
    this.completeWrites();
  }

  completeWrites(): void {
    for (const mutation of this.#pendingWrites.splice(0)) mutation.complete();
  }

  /** Resolves when no statement of this connection is running on its pool connection. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** The pass of this statement: the one bound at acquire for the first statement, else one still open. */
  #passFor(compiledQuery: CompiledQuery, first: boolean): QueryPass | undefined {
    if (first && this.#pass?.queryId === compiledQuery.queryId) return this.#pass;
    return takePass(this.#context.owner, compiledQuery.queryId);
  }

  #executeCached<R>(
    compiledQuery: CompiledQuery,
    analysis: QueryAnalysis,
    queryOptions: CachedQueryOptions,
    shareable: boolean,
    options: AbortableOperationOptions | undefined,
  ): Promise<QueryResult<R>> {
    // Prefixed: an engine shared with other adapters caches their results in other shapes.
    const key = queryKey(["kysely", compiledQuery.sql], compiledQuery.parameters);
    const tables = dependencies(analysis, queryOptions);
    const ttl = queryOptions.ttl ?? this.#context.ttl;
    return this.#context.watch.load<QueryResult<R>>(
      {
        key: tables === undefined ? undefined : key,
        tables,
        inTransaction: !shareable,
        ...(ttl === undefined ? {} : { ttl }),
        ...(queryOptions.tags ? { tags: queryOptions.tags } : {}),
        // No signal: Kysely races the caller's signal itself and lets the statement finish in the
        // background (its "ignore query" default), so the load completes and fills for the next
        // caller; "cancel query" reaches the pool connection through cancelQuery().
      },
      () => this.#executeHere<R>(compiledQuery, options),
    );
  }

  async #executeWrite<R>(
    compiledQuery: CompiledQuery,
    analysis: QueryAnalysis,
    options: AbortableOperationOptions | undefined,
  ): Promise<QueryResult<R>> {
    const mutation =
      analysis.writes.length > 0
        ? this.#context.watch.beginMutation(analysis.writes.map(toInput))
        : undefined;
    try {
      return await this.#executeHere<R>(compiledQuery, options);
    } finally {
      if (mutation) {
        if (this.#inTransaction || this.#deferWrites) this.#pendingWrites.push(mutation);
        else mutation.complete();
      }
    }
  }

  #executeHere<R>(
    compiledQuery: CompiledQuery,
    options: AbortableOperationOptions | undefined,
  ): Promise<QueryResult<R>> {
    const run = this.materialize(options).then((real) => real.executeQuery<R>(compiledQuery, options));
    this.#running.add(run);
    const forget = () => this.#running.delete(run);
    run.then(forget, forget);
    return run;
  }
}

/** The tables a cached read depends on, or undefined when they are unknown (rule 5: not cached). */
function dependencies(analysis: QueryAnalysis, options: CachedQueryOptions): TableInput[] | undefined {
  const named = options.tables;
  // Hidden tables (raw SQL text) or none at all (`select now()`): only the user can say what it reads.
  if (named === undefined && (analysis.opaque || analysis.tables.length === 0)) return undefined;
  const tables: TableInput[] = analysis.tables.map(toInput);
  if (named) tables.push(...named);
  return tables;
}

function toInput(table: QueryTable): TableInput {
  return table.schema === undefined ? { table: table.table } : { schema: table.schema, table: table.table };
}

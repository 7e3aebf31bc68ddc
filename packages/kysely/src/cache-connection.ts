import type { LoadControl, Statement } from "@pgcachewatch/core";
import { queryKey } from "@pgcachewatch/core/adapter";
import type {
  AbortableOperationOptions,
  CompiledQuery,
  ControlConnectionProvider,
  DatabaseConnection,
  QueryResult,
} from "kysely";
import type { CacheContext } from "./cache-context.js";
import type { ResolvedCacheOptions } from "./cached-query-options.js";
import { type QueryPass, takePass } from "./query-pass.js";
import { isReadCandidate } from "./read-candidate.js";

/**
 * The connection the wrapped driver hands to Kysely. It is not a pool connection: it acquires one
 * from the wrapped driver only when something must reach the database, so a cache hit does no I/O.
 *
 * Every statement reaches the pool connection through `watch.runStatement`, which analyses it,
 * tracks transactions on that pool connection (whoever opened them: another request sharing one
 * client included) and invalidates what a write touches when it completes or its transaction ends.
 *
 * - Handed out for one query (a pass was open at acquire time): its first statement, if it is that
 *   query and opted in, is a shareable cached read.
 * - Handed out otherwise (`db.connection()`, `db.transaction()`, a stream): acquires eagerly; its
 *   reads are shared only with a `scope` (the session may carry state: `SET`, `set_config()`,
 *   temporary tables) and never inside a transaction.
 */
export class CacheConnection implements DatabaseConnection {
  readonly #context: CacheContext;
  /** The query this connection was acquired for, if it was acquired for one. */
  readonly #pass: QueryPass | undefined;
  #real: DatabaseConnection | undefined;
  #acquiring: Promise<DatabaseConnection> | undefined;
  #statements = 0;
  /** Statements running on the pool connection; made on the first (a hit sends none). */
  #running: Set<Promise<unknown>> | undefined;

  constructor(context: CacheContext, pass: QueryPass | undefined) {
    this.#context = context;
    this.#pass = pass;
  }

  // Not async: a hit returns the engine's promise itself, without wrapping it in another.
  executeQuery<R>(
    compiledQuery: CompiledQuery,
    options?: AbortableOperationOptions,
  ): Promise<QueryResult<R>> {
    try {
      const first = this.#statements++ === 0;
      const pass = this.#passFor(compiledQuery, first);
      const cacheOptions = pass?.options;
      if (cacheOptions == null || !isReadCandidate(compiledQuery))
        return this.#execute(compiledQuery, options);
      // The one query this connection was acquired for, as its first statement: nothing else shares the session.
      const single = first && this.#pass !== undefined && pass === this.#pass;
      return this.#executeCached(compiledQuery, cacheOptions, single, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize: number,
    options?: AbortableOperationOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    this.#statements++;
    const real = await this.materialize(options);
    // The statement counts as running until the stream ends (a write's invalidation waits for it).
    let end!: () => void;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    let opened!: (stream: AsyncIterableIterator<QueryResult<R>>) => void;
    const stream = new Promise<AsyncIterableIterator<QueryResult<R>>>((resolve) => {
      opened = resolve;
    });
    const statement = this.#context.watch.runStatement(this.#statement(compiledQuery, real), () => {
      opened(real.streamQuery<R>(compiledQuery, chunkSize, options));
      return ended;
    });
    try {
      yield* await stream;
    } finally {
      end();
      await statement;
    }
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

  /** No statement of this connection is running. */
  get idle(): boolean {
    return this.#running === undefined || this.#running.size === 0;
  }

  /** Resolves when no statement of this connection is running on its pool connection. */
  async settled(): Promise<void> {
    const running = this.#running;
    if (running === undefined) return;
    while (running.size > 0) await Promise.allSettled([...running]);
  }

  /** The pass of this statement: the one bound at acquire for the first statement, else one still open. */
  #passFor(compiledQuery: CompiledQuery, first: boolean): QueryPass | undefined {
    if (first && this.#pass?.queryId === compiledQuery.queryId) return this.#pass;
    return takePass(this.#context.owner, compiledQuery.queryId);
  }

  #executeCached<R>(
    compiledQuery: CompiledQuery,
    cacheOptions: ResolvedCacheOptions,
    single: boolean,
    options: AbortableOperationOptions | undefined,
  ): Promise<QueryResult<R>> {
    const { watch, session, sessionChanges } = this.#context;
    // A reserved session is shared only when the caller says what it is specific to (a scope);
    // inside a transaction, or with a role or search_path of its own, it never is.
    const real = this.#real;
    const shareable =
      single ||
      (cacheOptions.scope !== undefined &&
        real !== undefined &&
        !watch.inTransaction(real) &&
        !sessionChanges.changed(real));
    // Prefixed: an engine shared with other adapters caches their results in other shapes. The
    // role and search_path of the pool: another pool's same SQL text may return other rows.
    const key =
      session === undefined
        ? undefined
        : queryKey(
            ["kysely", session.key, cacheOptions.keyPart, compiledQuery.sql],
            compiledQuery.parameters,
          );
    const ttl = cacheOptions.ttl ?? this.#context.ttl;
    return watch.load<QueryResult<R>>(
      {
        // One literal with every field (absent ones undefined): no spread objects per call.
        key,
        inTransaction: !shareable,
        name: compiledQuery.sql,
        tables: cacheOptions.tables,
        scope: cacheOptions.scope,
        ttl,
        tags: cacheOptions.tags,
        // No signal: Kysely races the caller's signal itself and lets the statement finish in the
        // background (its "ignore query" default), so the load completes and fills for the next
        // caller; "cancel query" reaches the pool connection through cancelQuery().
      },
      (_signal, control) => this.#execute<R>(compiledQuery, options, control),
    );
  }

  /** Send one statement on the pool connection, through the engine. */
  #execute<R>(
    compiledQuery: CompiledQuery,
    options: AbortableOperationOptions | undefined,
    control?: LoadControl,
  ): Promise<QueryResult<R>> {
    const { sessionChanges, watch } = this.#context;
    const run = this.materialize(options).then((real) => {
      // The key says "the pool's role and search_path": a result read with others is not stored.
      if (control !== undefined && sessionChanges.changed(real)) control.doNotStore();
      // `real.executeQuery` submits synchronously: the transaction state recorded is the one it runs in.
      const sent = watch.runStatement(this.#statement(compiledQuery, real), () =>
        real.executeQuery<R>(compiledQuery, options),
      );
      if (compiledQuery.query.kind !== "RawNode" || !sessionChanges.mayChange(real, compiledQuery.sql))
        return sent;
      const refresh = () => sessionChanges.refresh(real, this.#context.session);
      return sent.then(
        async (result) => {
          await refresh();
          return result;
        },
        async (error: unknown) => {
          await refresh();
          throw error;
        },
      );
    });
    const running = this.#running ?? new Set<Promise<unknown>>();
    this.#running = running;
    running.add(run);
    const forget = () => running.delete(run);
    run.then(forget, forget);
    return run;
  }

  #statement(compiledQuery: CompiledQuery, real: DatabaseConnection): Statement {
    const searchPath = this.#context.sessionChanges.searchPath(real) ?? this.#context.session?.searchPath;
    return {
      sql: compiledQuery.sql,
      params: compiledQuery.parameters,
      connection: real,
      ...(searchPath === undefined ? {} : { searchPath }),
    };
  }
}

import type { ConnectionStates } from "./connection-states.js";
import type { Mutation, Statement } from "./load-request.js";
import { loadScope } from "./load-scope.js";
import { isPromise, type StatementAnalysis, type StatementAnalyzer } from "./statement-analysis.js";

/** A write that is running: marked already; `finish` with its result gives what to invalidate. */
export interface RunningWrite {
  /** `result`: what the driver returned (RETURNING rows name more rows), undefined when it failed. */
  finish(result: unknown): Mutation;
}

interface RunnerDeps {
  readonly analyzer: () => StatementAnalyzer;
  readonly connections: ConnectionStates;
  readonly beginWrite: (analysis: StatementAnalysis, params: readonly unknown[] | undefined) => RunningWrite;
}

/**
 * Every statement an adapter sends goes through here, reads and writes alike: it is analysed
 * (memoised by text), recorded against the load it belongs to, tracked for transaction control
 * on its connection, and, when it writes, marked before it runs and invalidated when it
 * completes (after COMMIT or ROLLBACK inside a transaction): read-your-writes in one place. A
 * write invalidates the rows it names (its WHERE, VALUES, SET constants, RETURNING values) and
 * the table's whole-table dependents, or the whole table when it cannot name them.
 */
export class StatementRunner {
  readonly #deps: RunnerDeps;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
  }

  run<T>(statement: Statement, run: () => Promise<T>): Promise<T> {
    const analyzer = this.#deps.analyzer();
    let analysis: StatementAnalysis | Promise<StatementAnalysis>;
    try {
      analysis = analyzer.analyze(
        statement.sql,
        statement.searchPath === undefined ? undefined : { searchPath: statement.searchPath },
      );
    } catch (error) {
      loadScope.getStore()?.refuse(`analysis failed: ${(error as Error).message}`);
      return run();
    }
    if (!isPromise(analysis)) return this.#runAnalysed(statement, analysis, run);
    // First sight of this text with a catalog to load: wait, so a write is marked before it runs.
    const collector = loadScope.getStore();
    return analysis.then(
      (done) =>
        collector
          ? loadScope.run(collector, () => this.#runAnalysed(statement, done, run))
          : this.#runAnalysed(statement, done, run),
      (error: unknown) => {
        collector?.refuse(`analysis failed: ${(error as Error).message}`);
        return run();
      },
    );
  }

  #runAnalysed<T>(statement: Statement, analysis: StatementAnalysis, run: () => Promise<T>): Promise<T> {
    const { connections } = this.#deps;
    const connection = statement.connection;
    loadScope.getStore()?.record(analysis, connections.inTransaction(connection), statement.params);
    const control = analysis.transaction;
    if (control === "begin" && connection !== undefined) connections.begin(connection);
    const write = analysis.writes.length > 0 ? this.#deps.beginWrite(analysis, statement.params) : undefined;
    const schemaChange = analysis.schemaChange === true;
    if (write === undefined && control === undefined && !schemaChange) return run();
    const settle = (failed: boolean, result?: unknown) => {
      // DDL ran: names may mean something else now.
      if (schemaChange) this.#deps.analyzer().invalidateCatalog();
      // The rows the write names are decided now; their tags when it completes (after COMMIT).
      if (write) connections.completeWrite(connection, write.finish(failed ? undefined : result));
      if (connection === undefined) return;
      // A failed BEGIN opened nothing; COMMIT and ROLLBACK end the transaction either way.
      if ((control === "begin" && failed) || control === "commit" || control === "rollback") {
        connections.end(connection);
        // COMMIT AND CHAIN: the writes are done, and a new transaction is open at once.
        if (analysis.chained === true && !failed) connections.begin(connection);
      }
    };
    let running: Promise<T>;
    try {
      running = run();
    } catch (error) {
      settle(true);
      throw error;
    }
    return running.then(
      (value) => {
        settle(false, value);
        return value;
      },
      (error: unknown) => {
        settle(true);
        throw error;
      },
    );
  }
}

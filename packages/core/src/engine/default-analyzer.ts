import pg from "pg";
import { createSqlAnalyzer, type SqlAnalyzer } from "../analysis/index.js";
import { EngineStoppedError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { AnalysisContext, StatementAnalysis, StatementAnalyzer } from "./statement-analysis.js";

/**
 * The engine's default analyzer: PostgreSQL's parser and the catalog over a connection of its
 * own, created on the first statement that needs it (an engine that never sees a statement
 * never loads the parser or opens the connection).
 */
export class DefaultAnalyzer implements StatementAnalyzer {
  readonly #options: { connectionString: string | undefined; logger: Logger };
  #analyzer: SqlAnalyzer | undefined;
  #creating: Promise<SqlAnalyzer> | undefined;
  #closed = false;

  constructor(options: { connectionString: string | undefined; logger: Logger }) {
    this.#options = options;
  }

  analyze(sql: string, context?: AnalysisContext): StatementAnalysis | Promise<StatementAnalysis> {
    if (this.#analyzer) return this.#analyzer.analyze(sql, context);
    return this.#create().then((analyzer) => analyzer.analyze(sql, context));
  }

  invalidateCatalog(): void {
    this.#analyzer?.invalidateCatalog();
  }

  /** Parses, memo hits and catalog loads so far (zeros before the first statement). */
  get counters(): { readonly parses: number; readonly memoHits: number; readonly catalogLoads: number } {
    return this.#analyzer?.counters ?? { parses: 0, memoHits: 0, catalogLoads: 0 };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const analyzer = this.#analyzer ?? (await this.#creating?.catch(() => undefined));
    await analyzer?.close();
  }

  #create(): Promise<SqlAnalyzer> {
    const { connectionString, logger } = this.#options;
    // Without a connection string, pg's own defaults (the PG* variables), as the listener does.
    const options =
      connectionString === undefined
        ? {
            logger,
            connect: async () => {
              const client = new pg.Client({ application_name: "pgcachewatch-catalog" });
              await client.connect();
              return client;
            },
          }
        : { connectionString, logger };
    this.#creating ??= createSqlAnalyzer(options).then(
      async (analyzer) => {
        if (this.#closed) {
          await analyzer.close();
          throw new EngineStoppedError();
        }
        this.#analyzer = analyzer;
        return analyzer;
      },
      (error: unknown) => {
        // Try again on the next statement (the server may have been down).
        this.#creating = undefined;
        throw error;
      },
    );
    return this.#creating;
  }
}

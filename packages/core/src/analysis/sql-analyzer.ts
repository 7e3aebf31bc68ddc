import pg from "pg";
import type { TableRef } from "../events/table-name.js";
import { type Logger, silentLogger } from "../logger.js";
import { AnalysisMemo, contextKey, type ParsedText } from "./analysis-memo.js";
import { type CatalogSnapshot, loadCatalogSnapshot } from "./catalog-snapshot.js";
import type { AnalyzeContext, StatementDependencies } from "./dependencies.js";
import { AnalyzerConfigError, CatalogLoadError } from "./errors.js";
import { resolveDependencies } from "./resolve-dependencies.js";
import { loadSqlParser, parseSql } from "./sql-parser.js";
import { type StatementFacts, statementFacts } from "./statement-facts.js";

export interface SqlAnalyzer {
  /**
   * The dependencies of a SQL text. Synchronous (memoised by text + context) when the catalog
   * snapshot knows every name; a Promise when the catalog had to be read first (out of date, or a
   * name it did not know). Never throws or rejects: bad SQL gives opaque "parse error: ...", an
   * unreadable catalog opaque "catalog unavailable: ..." (not memoised). Several statements are
   * merged: union of reads and writes, the first reasons, `transaction` only for a single statement.
   */
  analyze(sql: string, context?: AnalyzeContext): StatementDependencies | Promise<StatementDependencies>;
  /** Mark the catalog out of date (DDL seen, reconnect): the next analysis reloads it; memoised results are dropped. */
  invalidateCatalog(): void;
  /** Counters for tests and stats. */
  readonly counters: { readonly parses: number; readonly memoHits: number; readonly catalogLoads: number };
  close(): Promise<void>;
}

export interface SqlAnalyzerOptions {
  /** Where to read the catalog from (the analyzer opens its own connection). */
  readonly connectionString?: string;
  /** Or: how to open the catalog connection (takes precedence over `connectionString`). */
  readonly connect?: () => Promise<pg.Client>;
  /** Bound of the memo of results (and of parsed texts). Default 5,000. */
  readonly memoSize?: number;
  readonly logger?: Logger;
}

export const DEFAULT_MEMO_SIZE = 5_000;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function opaqueResult(reason: string): StatementDependencies {
  return Object.freeze({
    reads: Object.freeze([]),
    writes: Object.freeze([]),
    opaque: reason,
    sessionDependent: undefined,
    transaction: undefined,
    kind: "utility",
  });
}

function mergeTables(target: Map<string, TableRef>, tables: readonly TableRef[]): void {
  for (const t of tables) {
    const key = `${t.schema}\u0000${t.table}`;
    if (!target.has(key)) target.set(key, t);
  }
}

/** One result for a text of several statements (a single statement is returned as it is). */
function mergeStatements(parts: readonly StatementDependencies[]): StatementDependencies {
  if (parts.length === 1) return parts[0]!;
  const reads = new Map<string, TableRef>();
  const writes = new Map<string, TableRef>();
  let opaque: string | undefined;
  let sessionDependent: string | undefined;
  let schemaChange = false;
  for (const part of parts) {
    mergeTables(reads, part.reads);
    mergeTables(writes, part.writes);
    opaque ??= part.opaque;
    sessionDependent ??= part.sessionDependent;
    schemaChange ||= part.schemaChange === true;
  }
  return {
    reads: [...reads.values()],
    writes: [...writes.values()],
    opaque,
    sessionDependent,
    transaction: undefined,
    kind: parts[parts.length - 1]?.kind ?? "utility",
    ...(schemaChange ? { schemaChange: true as const } : {}),
  };
}

function freezeResult(result: StatementDependencies): StatementDependencies {
  Object.freeze(result.reads);
  Object.freeze(result.writes);
  for (const t of result.reads) Object.freeze(t);
  for (const t of result.writes) Object.freeze(t);
  return Object.freeze(result);
}

class CatalogSqlAnalyzer implements SqlAnalyzer {
  readonly counters = { parses: 0, memoHits: 0, catalogLoads: 0 };
  private readonly memo: AnalysisMemo;
  private readonly logger: Logger;
  private snapshot: CatalogSnapshot | undefined;
  /** Bumped by invalidateCatalog(); a snapshot is current when it was read at the current generation. */
  private generation = 0;
  private snapshotGeneration = -1;
  private loading: { readonly generation: number; readonly done: Promise<string | undefined> } | undefined;
  private client: pg.Client | undefined;
  private closed = false;

  constructor(private readonly options: SqlAnalyzerOptions) {
    const size = options.memoSize ?? DEFAULT_MEMO_SIZE;
    this.memo = new AnalysisMemo(size);
    this.logger = options.logger ?? silentLogger;
  }

  analyze(sql: string, context?: AnalyzeContext): StatementDependencies | Promise<StatementDependencies> {
    const key = contextKey(context);
    const memo = this.memo.result(sql, key);
    if (memo) {
      this.counters.memoHits++;
      return memo;
    }
    const parsed = this.parse(sql);
    if (!parsed.ok) {
      const result = opaqueResult(parsed.message);
      this.memo.storeResult(sql, parsed, key, result);
      return result;
    }
    const snapshot = this.snapshot;
    if (snapshot && this.snapshotGeneration === this.generation) {
      const result = this.resolve(parsed.statements, snapshot, context, false);
      if (result) {
        this.memo.storeResult(sql, parsed, key, result);
        return result;
      }
    }
    return this.resolveAfterReload(sql, parsed, context);
  }

  invalidateCatalog(): void {
    this.generation++;
    this.memo.dropResults();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loading?.done;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  /** Read the catalog for the first time; a failure here is the caller's to see. */
  async start(): Promise<void> {
    const failure = await this.reload();
    if (failure !== undefined) throw new CatalogLoadError(failure);
  }

  private parse(sql: string): ParsedText {
    const known = this.memo.parsed(sql);
    if (known) return known;
    this.counters.parses++;
    const outcome = parseSql(sql);
    let parsed: ParsedText;
    if (!outcome.ok) {
      parsed = { ok: false, message: `parse error: ${outcome.message}` };
    } else {
      try {
        parsed = {
          ok: true,
          statements: (outcome.result.stmts ?? []).map((raw) => statementFacts(raw.stmt)),
        };
      } catch (error) {
        // A parse tree this walker does not expect: not cacheable, and never an exception for the caller.
        parsed = { ok: false, message: `analysis failed: ${errorMessage(error)}` };
      }
    }
    this.memo.storeParsed(sql, parsed);
    return parsed;
  }

  /** The merged result, or undefined when a name is unknown and `final` is false. */
  private resolve(
    statements: readonly StatementFacts[],
    snapshot: CatalogSnapshot,
    context: AnalyzeContext | undefined,
    final: boolean,
  ): StatementDependencies | undefined {
    if (statements.length === 0) return opaqueResult("empty statement");
    const parts: StatementDependencies[] = [];
    try {
      for (const facts of statements) {
        const resolution = resolveDependencies(facts, snapshot, context, final);
        if (!resolution.complete) return undefined;
        parts.push(resolution.dependencies);
      }
    } catch (error) {
      return opaqueResult(`analysis failed: ${errorMessage(error)}`);
    }
    return freezeResult(mergeStatements(parts));
  }

  private async resolveAfterReload(
    sql: string,
    parsed: ParsedText & { ok: true },
    context: AnalyzeContext | undefined,
  ): Promise<StatementDependencies> {
    const failure = await this.reload();
    const snapshot = this.snapshot;
    if (failure !== undefined || !snapshot)
      return opaqueResult(`catalog unavailable: ${failure ?? "not loaded"}`);
    const result = this.resolve(parsed.statements, snapshot, context, true)!;
    // Memoise only what the current catalog decided (no invalidation while we waited).
    if (this.snapshotGeneration === this.generation) {
      this.memo.storeResult(sql, parsed, contextKey(context), result);
    }
    return result;
  }

  /** Read the catalog (one load at a time); resolves to a failure message, or undefined on success. */
  private reload(): Promise<string | undefined> {
    const inFlight = this.loading;
    if (inFlight) {
      // A load that started before the latest invalidation cannot answer for it: queue another.
      if (inFlight.generation === this.generation) return inFlight.done;
      return inFlight.done.then(() => this.reload());
    }
    const generation = this.generation;
    const done = this.load(generation).finally(() => {
      if (this.loading?.done === done) this.loading = undefined;
    });
    this.loading = { generation, done };
    return done;
  }

  private async load(generation: number): Promise<string | undefined> {
    if (this.closed) return "the analyzer is closed";
    try {
      const client = await this.catalogClient();
      const snapshot = await loadCatalogSnapshot(client);
      this.counters.catalogLoads++;
      this.snapshot = snapshot;
      this.snapshotGeneration = generation;
      // A new snapshot may change what any name means (a table created earlier in the path).
      this.memo.dropResults();
      return undefined;
    } catch (error) {
      const message = errorMessage(error);
      this.logger.warn("sql analyzer: could not read the catalog", { error: message });
      this.dropClient();
      return message;
    }
  }

  private async catalogClient(): Promise<pg.Client> {
    if (this.client) return this.client;
    let client: pg.Client;
    if (this.options.connect) {
      client = await this.options.connect();
    } else {
      client = new pg.Client({
        connectionString: this.options.connectionString,
        application_name: "pgcachewatch-catalog",
      });
      await client.connect();
    }
    client.on("error", (error) => {
      this.logger.warn("sql analyzer: catalog connection failed", { error: error.message });
      if (this.client === client) this.dropClient();
    });
    this.client = client;
    return client;
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => {});
  }
}

/**
 * The SQL analyzer: PostgreSQL's own parser for what a statement names, the catalog (read over its
 * own connection) for what the names mean. Resolves once the parser is loaded and the catalog read.
 */
export async function createSqlAnalyzer(options: SqlAnalyzerOptions): Promise<SqlAnalyzer> {
  if (!options.connect && !options.connectionString) {
    throw new AnalyzerConfigError("give connectionString or connect");
  }
  if (options.memoSize !== undefined && (!Number.isInteger(options.memoSize) || options.memoSize < 1)) {
    throw new AnalyzerConfigError(`memoSize must be a positive integer, got ${options.memoSize}`);
  }
  await loadSqlParser();
  const analyzer = new CatalogSqlAnalyzer(options);
  try {
    await analyzer.start();
  } catch (error) {
    await analyzer.close();
    throw error;
  }
  return analyzer;
}

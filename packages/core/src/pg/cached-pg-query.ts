import pg from "pg";
import type { CacheWatch } from "../engine/cache-watch.js";
import { isPromise, type StatementAnalysis } from "../engine/statement-analysis.js";
import type { TableInput } from "../events/table-name.js";
import { queryKey } from "../keys/query-key.js";
import type { SessionIdentity } from "../keys/session-identity.js";
import { pgSessionIdentity } from "./pg-session-identity.js";

/** What `watch.query` runs a statement on: a pg.Pool, a pg.Client or a checked-out PoolClient. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

export interface PgQueryOptions {
  /** Tables the result depends on besides those the analyzer finds (needed for opaque statements). */
  readonly tables?: readonly TableInput[];
  /** Tenant, role or anything else the result is specific to (part of the key; needed under RLS). */
  readonly scope?: string;
  readonly ttl?: number;
  readonly tags?: readonly string[];
  readonly signal?: AbortSignal;
  /**
   * The search_path the statement runs with. Default: the one the pool's (or client's) sessions
   * start with, read once on first use (`SHOW search_path`, with `$user` resolved). Give it when a
   * session changes its own path (`SET search_path`).
   */
  readonly searchPath?: string;
}

/** The parts of a pg result a cached read keeps (plain data the engine can copy). */
export type PgQueryResult<R> = Pick<
  pg.QueryResult<R & pg.QueryResultRow>,
  "rows" | "rowCount" | "command" | "fields"
>;

/**
 * A raw SQL statement through the engine. A read is cached under the tables PostgreSQL's parser
 * and catalog find in it; a write runs at once and invalidates what it wrote as soon as it
 * completes (after COMMIT inside a transaction); transaction control on a client is tracked, so
 * reads on that client bypass the cache until the transaction ends.
 */
export function cachedPgQuery<R = Record<string, unknown>>(
  watch: CacheWatch,
  client: PgQueryable,
  text: string,
  params: readonly unknown[] = [],
  options: PgQueryOptions = {},
): Promise<PgQueryResult<R>> {
  // The role and search_path decide what the text returns: part of the key and of name resolution.
  const identity = pgSessionIdentity(client);
  if (isPromise(identity))
    return identity.then((known) => queryAs(watch, client, known, text, params, options));
  return queryAs(watch, client, identity, text, params, options);
}

function queryAs<R>(
  watch: CacheWatch,
  client: PgQueryable,
  identity: SessionIdentity,
  text: string,
  params: readonly unknown[],
  options: PgQueryOptions,
): Promise<PgQueryResult<R>> {
  // A pool picks a free connection per statement: never one inside a transaction.
  const connection = client instanceof pg.Pool ? undefined : client;
  const searchPath = options.searchPath ?? identity.searchPath;
  const statement = { sql: text, params, connection, searchPath };
  const send = () =>
    watch.runStatement(statement, () => client.query(text, params as unknown[])).then(plainResult<R>);
  const read = (): Promise<PgQueryResult<R>> => {
    const key = queryKey(["pg", identity.role, searchPath, text], params);
    return watch.load(
      {
        key: connection !== undefined && watch.inTransaction(connection) ? undefined : key,
        ...(options.tables === undefined ? {} : { tables: options.tables }),
        ...(options.scope === undefined ? {} : { scope: options.scope }),
        ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
        ...(options.tags === undefined ? {} : { tags: options.tags }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        name: text,
      },
      send,
    );
  };
  const known = knownReads(watch);
  // A text already seen to be a plain read goes straight to the cache: a hit does no analysis.
  if (known.has(text)) return read();
  const route = (done: StatementAnalysis): Promise<PgQueryResult<R>> => {
    // Only a plain read may be shared: two callers of one UPDATE must both run it.
    if (done.writes.length > 0 || done.transaction !== undefined || isLockingOrUtility(done)) return send();
    known.add(text);
    return read();
  };
  const analysis = watch.analyzer.analyze(text, { searchPath });
  return isPromise(analysis) ? analysis.then(route) : route(analysis);
}

const KNOWN_READS_BOUND = 5_000;
const knownReadsByWatch = new WeakMap<CacheWatch, BoundedSet>();

/** Texts each engine has seen to be plain reads (bounded: the oldest is forgotten first). */
function knownReads(watch: CacheWatch): BoundedSet {
  let set = knownReadsByWatch.get(watch);
  if (set === undefined) {
    set = new BoundedSet(KNOWN_READS_BOUND);
    knownReadsByWatch.set(watch, set);
  }
  return set;
}

class BoundedSet {
  readonly #items = new Set<string>();
  readonly #bound: number;
  constructor(bound: number) {
    this.#bound = bound;
  }
  has(item: string): boolean {
    return this.#items.has(item);
  }
  add(item: string): void {
    this.#items.add(item);
    if (this.#items.size > this.#bound) this.#items.delete(this.#items.values().next().value as string);
  }
}

function isLockingOrUtility(analysis: StatementAnalysis): boolean {
  return analysis.kind !== undefined && analysis.kind !== "select";
}

function plainResult<R>(result: pg.QueryResult): PgQueryResult<R> {
  return {
    rows: result.rows as PgQueryResult<R>["rows"],
    rowCount: result.rowCount,
    command: result.command,
    fields: result.fields.map((field) => ({ ...field })),
  };
}

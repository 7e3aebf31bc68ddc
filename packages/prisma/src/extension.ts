import type { CacheWatch, LoadControl, Logger } from "@pgcachewatch/core";
import { silentLogger } from "@pgcachewatch/core";
import { Prisma } from "@prisma/client/extension";
import { InvalidCacheOptionError } from "./errors.js";
import { ModelGraph } from "./model-graph.js";
import {
  CACHED_OPERATIONS,
  type CacheArgument,
  type CacheCallOptions,
  type CachedOperation,
  checkCallOptions,
  checkRawOptions,
  checkTtl,
  MUTATION_OPERATIONS,
  type PgCacheWatchOptions,
  type RawCacheOptions,
  type RawSqlQuery,
} from "./options.js";
import {
  onInteractiveTransactionEnd,
  readAdapterFactory,
  readAdapterSchema,
  readOriginalArgs,
  readRuntimeDataModel,
  readTransactionMarker,
  type TransactionMarker,
  VERIFIED_PRISMA_VERSIONS,
} from "./prisma-internals.js";
import { queryKey } from "./query-key.js";
import { sharedEngine, startInBackground } from "./shared-engine.js";
import { SqlObserver, tablesInSql } from "./sql-observer.js";
import { deriveMutationTables, deriveTables } from "./table-derivation.js";
import { TableSet } from "./table-set.js";

/** What a query extension hook receives (plus Prisma's internal parameters). */
interface OperationCall {
  readonly model?: string;
  readonly operation: string;
  readonly args: unknown;
  readonly query: (args: unknown) => Promise<unknown>;
  readonly __internalParams?: unknown;
}

const CACHED = new Set<string>(CACHED_OPERATIONS);
const MUTATIONS = new Set<string>(MUTATION_OPERATIONS);

/**
 * One extended client's caching: derives tables, keys and transaction state for each Prisma
 * operation and hands them to the engine. All cache logic lives in the engine.
 */
class PrismaCache {
  readonly watch: CacheWatch;
  readonly #client: unknown;
  readonly #options: PgCacheWatchOptions;
  readonly #logger: Logger;
  readonly #models: ReadonlySet<string> | undefined;
  readonly #operations: ReadonlySet<string>;
  readonly #ttl: number | undefined;
  readonly #observer: SqlObserver | undefined;
  readonly #defaultSchema: string;
  /** Options of $queryRawCached calls, keyed by the query object Prisma passes on. */
  readonly #rawOptions: WeakMap<object, RawCacheOptions>;
  /** Mutations inside an interactive transaction, completed when it commits or rolls back. */
  readonly #pending = new Map<string, Array<() => void>>();
  readonly #tracksTransactions: boolean;
  /** Tables a model operation's SQL read beyond what its arguments named; added to later derivations. */
  readonly #learned = new Map<string, TableSet>();
  #graph: ModelGraph | null | undefined;

  constructor(client: unknown, options: PgCacheWatchOptions, rawOptions: WeakMap<object, RawCacheOptions>) {
    this.#client = client;
    this.#rawOptions = rawOptions;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#models = options.models ? new Set(options.models) : undefined;
    this.#operations = new Set(options.operations ?? CACHED_OPERATIONS);
    for (const operation of this.#operations) {
      if (!CACHED.has(operation)) {
        throw new InvalidCacheOptionError(
          `operations: ${operation} is not one of ${CACHED_OPERATIONS.join(", ")}`,
        );
      }
    }
    this.#ttl = checkTtl(options.ttl, "");
    this.watch = options.watch ?? sharedEngine(options.connectionString, options.engine);
    startInBackground(this.watch);
    const factory = readAdapterFactory(client);
    this.#defaultSchema = options.defaultSchema ?? readAdapterSchema(factory) ?? "public";
    this.#observer = options.verifySql === false || !factory ? undefined : SqlObserver.for(factory);
    const version = Prisma.prismaVersion?.client;
    if (typeof version === "string" && !version.startsWith(`${VERIFIED_PRISMA_VERSIONS}.`)) {
      this.#logger.warn(
        "pgcachewatch: this Prisma release was not verified; internals are checked at run time",
        {
          prisma: version,
          verified: `${VERIFIED_PRISMA_VERSIONS}.x`,
        },
      );
    }
    this.#tracksTransactions = onInteractiveTransactionEnd(client, (id) => this.#transactionEnded(id));
    if (!this.#tracksTransactions) {
      this.#logger.warn(
        "pgcachewatch: cannot observe interactive transaction commits; their writes invalidate when each statement completes",
      );
    }
  }

  handle(call: OperationCall): Promise<unknown> {
    const { model, operation, args, query } = call;
    if (model === undefined) return operation === "$queryRaw" ? this.#rawRead(call) : query(args);
    if (CACHED.has(operation)) return this.#read(call, model);
    if (MUTATIONS.has(operation)) return this.#write(call, model);
    return query(args);
  }

  #read(call: OperationCall, model: string): Promise<unknown> {
    const { operation, query } = call;
    const marker = readTransactionMarker(call.__internalParams);
    // The per-call `cache` argument is ours: Prisma must never see it.
    let args = call.args;
    let perCall: false | CacheCallOptions | undefined;
    if (typeof args === "object" && args !== null && "cache" in args) {
      const { cache: option, ...rest } = args as Record<string, unknown>;
      args = rest;
      try {
        perCall = option === undefined ? undefined : checkCallOptions(option);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const graph = this.#modelGraph();
    const enabled =
      perCall !== false &&
      graph &&
      this.#operations.has(operation) &&
      (!this.#models || this.#models.has(model));
    if (marker || !enabled) {
      // Inside a transaction, or not cached by configuration: straight to the database (no await
      // before query(): a batch transaction needs every query requested synchronously).
      return marker
        ? this.watch.load({ key: undefined, tables: undefined, inTransaction: true }, () => query(args))
        : query(args);
    }
    const tables = deriveTables(graph, model, args);
    const key = queryKey(this.#options.namespace ?? "", model, operation, args);
    if (!tables || key === undefined) {
      // Arguments we cannot read faithfully: not cached (the engine counts the bypass).
      return this.watch.load({ key: undefined }, () => query(args));
    }
    const learned = this.#learned.get(`${model}.${operation}`);
    if (learned) tables.addAll(learned.toArray());
    const settings = perCall || undefined;
    const ttl = settings?.ttl ?? this.#ttl;
    return this.watch.load(
      {
        key,
        tables: tables.toArray(),
        ...(ttl === undefined ? {} : { ttl }),
        ...(settings?.tags ? { tags: settings.tags } : {}),
      },
      (_signal, control) => this.#loadVerified(`${model}.${operation}`, tables, () => query(args), control),
    );
  }

  /** `$queryRawCached`: cached under the tables the caller named; any other raw query passes through. */
  #rawRead(call: OperationCall): Promise<unknown> {
    const { args, query } = call;
    const original = readOriginalArgs(call.__internalParams);
    const options =
      typeof original === "object" && original !== null ? this.#rawOptions.get(original) : undefined;
    if (!options) return query(args);
    const marker = readTransactionMarker(call.__internalParams);
    const sql = original as RawSqlQuery;
    const key = queryKey(this.#options.namespace ?? "", "$raw", "$queryRaw", {
      strings: sql.strings,
      values: sql.values,
    });
    const ttl = options.ttl ?? this.#ttl;
    return this.watch.load(
      {
        key,
        tables: options.tables,
        inTransaction: marker !== undefined,
        ...(ttl === undefined ? {} : { ttl }),
        ...(options.tags ? { tags: options.tags } : {}),
      },
      () => query(args),
    );
  }

  async #loadVerified(
    shape: string,
    tables: TableSet,
    run: () => Promise<unknown>,
    control: LoadControl,
  ): Promise<unknown> {
    if (!this.#observer) return run();
    const { value, statements } = await this.#observer.observe(run);
    const missed = tables.missing(tablesInSql(statements));
    if (missed.length === 0) return value;
    let learned = this.#learned.get(shape);
    if (!learned) {
      learned = new TableSet();
      this.#learned.set(shape, learned);
    }
    learned.addAll(missed);
    this.#logger.warn(
      "pgcachewatch: a Prisma query read tables its arguments did not name; its result was not cached",
      {
        operation: shape,
        tables: missed.map((t) => `${t.schema}.${t.table}`),
      },
    );
    // The derivation missed a table: the result is right, but its dependencies are not all known.
    control.doNotStore();
    return value;
  }

  #write(call: OperationCall, model: string): Promise<unknown> {
    const { operation, args, query } = call;
    const marker = readTransactionMarker(call.__internalParams);
    const graph = this.#modelGraph();
    const tables = graph ? deriveMutationTables(graph, model, operation, args) : undefined;
    const mutation = this.watch.beginMutation(tables?.toArray() ?? []);
    const finish = (statements: readonly string[]) => {
      // Tables the SQL wrote that the arguments did not name are invalidated with the write.
      const written = tablesInSql(statements);
      mutation.complete(tables ? tables.missing(written) : written);
    };
    const observed = this.#observer
      ? this.#observer.observe(() => query(args))
      : query(args).then((value) => ({ value, statements: [] }));
    if (marker?.kind === "itx" && this.#tracksTransactions) {
      return this.#deferUntilTransactionEnds(marker, observed, finish);
    }
    return observed.then(
      ({ value, statements }) => {
        finish(statements);
        return value;
      },
      (error: unknown) => {
        finish([]);
        throw error;
      },
    );
  }

  #deferUntilTransactionEnds(
    marker: Extract<TransactionMarker, { kind: "itx" }>,
    observed: Promise<{ value: unknown; statements: readonly string[] }>,
    finish: (statements: readonly string[]) => void,
  ): Promise<unknown> {
    let statements: readonly string[] = [];
    let list = this.#pending.get(marker.id);
    if (!list) {
      list = [];
      this.#pending.set(marker.id, list);
    }
    list.push(() => finish(statements));
    return observed.then((result) => {
      statements = result.statements;
      return result.value;
    });
  }

  #transactionEnded(id: string): void {
    const list = this.#pending.get(id);
    if (!list) return;
    this.#pending.delete(id);
    for (const complete of list) complete();
  }

  /** The model graph, built on first use; null (never cache) when Prisma's internals are not as expected. */
  #modelGraph(): ModelGraph | null {
    if (this.#graph === undefined) {
      try {
        const dataModel = readRuntimeDataModel(this.#client);
        this.#graph = new ModelGraph(dataModel, this.#defaultSchema);
        const unknown = [...(this.#models ?? [])].filter((name) => !(name in dataModel.models));
        if (unknown.length > 0) {
          this.#logger.warn("pgcachewatch: `models` names models this schema does not have", { unknown });
        }
      } catch (error) {
        this.#graph = null;
        this.#logger.error("pgcachewatch: caching is off for this client", { error: String(error) });
      }
    }
    return this.#graph;
  }
}

type WithCache<T, Op extends CachedOperation> = Prisma.Args<T, Op> & CacheArgument;

/** The cached operations' signatures on the extended client: Prisma's, plus the `cache` argument. */
type CacheArgumentMethods = {
  findUnique<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "findUnique">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findUnique">>;
  findUniqueOrThrow<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "findUniqueOrThrow">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findUniqueOrThrow">>;
  findFirst<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "findFirst">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirst">>;
  findFirstOrThrow<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "findFirstOrThrow">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirstOrThrow">>;
  findMany<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "findMany">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findMany">>;
  count<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "count">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "count">>;
  aggregate<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "aggregate">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "aggregate">>;
  groupBy<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "groupBy">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "groupBy">>;
};

/**
 * `prisma.$extends(pgCacheWatch())`: cache reads, invalidate on writes, and derive every query's
 * tables from the Prisma schema. Each cached model operation takes an optional `cache` argument.
 */
export function pgCacheWatch(options: PgCacheWatchOptions = {}) {
  return Prisma.defineExtension((client) => {
    const rawOptions = new WeakMap<object, RawCacheOptions>();
    const cache = new PrismaCache(client, options, rawOptions);
    return client
      .$extends({
        name: "@pgcachewatch/prisma:query",
        query: {
          $allModels: {
            $allOperations(call) {
              return cache.handle(call as unknown as OperationCall);
            },
          },
          $queryRaw(call) {
            return cache.handle({
              ...(call as unknown as OperationCall),
              model: undefined,
              operation: "$queryRaw",
            });
          },
        },
      })
      .$extends({
        name: "@pgcachewatch/prisma",
        client: {
          /** The engine behind this client: stats(), invalidate(), on("invalidate"), stop(). */
          $cacheWatch: cache.watch,
          /**
           * `$queryRaw` with a cache: the tables it reads must be named, e.g.
           * `prisma.$queryRawCached(Prisma.sql\`SELECT ...\`, { tables: ["users"] })`.
           */
          $queryRawCached<T = unknown>(
            query: RawSqlQuery,
            options: RawCacheOptions,
          ): Prisma.PrismaPromise<T> {
            const context = Prisma.getExtensionContext(this) as unknown as {
              $queryRaw(query: unknown): Prisma.PrismaPromise<T>;
            };
            try {
              const checked = checkRawOptions(options);
              // A private copy marks this one call; the caller's query object stays an ordinary one.
              const marked = Object.assign(
                Object.create(Object.getPrototypeOf(query) as object) as object,
                query,
              );
              rawOptions.set(marked, checked);
              return context.$queryRaw(marked);
            } catch (error) {
              return Promise.reject(error) as Prisma.PrismaPromise<T>;
            }
          },
        },
        // Types only: at run time Prisma's own methods stay in place (so every query extension, added
        // before or after this one, still runs), and the query hook above takes the `cache` argument out.
        model: { $allModels: {} } as unknown as { $allModels: CacheArgumentMethods },
      });
  });
}

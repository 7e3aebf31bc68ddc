import type { CacheWatch, Logger } from "@pgcachewatch/core";
import { silentLogger } from "@pgcachewatch/core";
import { Prisma } from "@prisma/client/extension";
import { type CachedCall, type CallExecutor, cachedCalls, cachingExecuteRequest } from "./cached-calls.js";
import { connectionIdentity } from "./connection-identity.js";
import { InvalidCacheOptionError } from "./errors.js";
import {
  CACHED_OPERATIONS,
  type CacheCallOptions,
  checkCallOptions,
  checkTtl,
  type PgCacheWatchOptions,
  type RawCacheOptions,
} from "./options.js";
import {
  type PrismaRequest,
  readAdapterFactory,
  readExtensions,
  readModelNames,
  readOriginalArgs,
  readTransactionMarker,
  VERIFIED_PRISMA_VERSIONS,
  wrapExecuteRequest,
} from "./prisma-internals.js";
import { RawReadRouter, rawText } from "./raw-reads.js";
import { requestKey } from "./request-key.js";
import { sharedEngine, startInBackground } from "./shared-engine.js";
import { StatementRouter } from "./sql-observer.js";
import { writableSpine } from "./writable-spine.js";

/** What a query extension hook receives (plus Prisma's internal parameters). */
export interface OperationCall {
  readonly model?: string;
  readonly operation: string;
  readonly args: unknown;
  readonly query: (args: unknown) => Promise<unknown>;
  readonly __internalParams?: unknown;
}

const CACHED = new Set<string>(CACHED_OPERATIONS);
const RAW_READS = new Set(["$queryRaw", "$queryRawUnsafe"]);

/**
 * One extended client's caching. Its query hook decides what may be cached (configuration, the
 * per-call `cache` argument) and marks the call; the key is built at `_executeRequest`; the
 * dependencies come from the SQL the driver adapter runs (the engine analyses it), and so does
 * every write's invalidation. No Prisma model knowledge is needed for any of it.
 */
export class PrismaCache implements CallExecutor {
  readonly watch: CacheWatch;
  /** The extension's namespace and who the client connects as (role, database, search_path). */
  readonly #namespace: string;
  readonly #logger: Logger;
  readonly #models: ReadonlySet<string> | undefined;
  readonly #operations: ReadonlySet<string>;
  readonly #ttl: number | undefined;
  readonly #cacheRaw: boolean;
  readonly #scope: (() => string | undefined) | undefined;
  /** Options of $queryRawCached calls, keyed by the query object Prisma passes on. */
  readonly #rawOptions: WeakMap<object, RawCacheOptions>;
  /** False when Prisma's internals are not as expected: nothing is cached, everything still runs. */
  readonly #enabled: boolean;
  readonly #rawReads: RawReadRouter;

  constructor(client: unknown, options: PgCacheWatchOptions, rawOptions: WeakMap<object, RawCacheOptions>) {
    this.#rawOptions = rawOptions;
    const factory = readAdapterFactory(client);
    const identity = connectionIdentity(factory);
    this.#namespace = `${options.namespace ?? ""}\u0000${identity.key}`;
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
    this.#cacheRaw = options.cacheRawQueries ?? true;
    if (options.scope !== undefined && typeof options.scope !== "function") {
      throw new InvalidCacheOptionError("scope must be a function returning a string or undefined");
    }
    this.#scope = options.scope;
    this.watch = options.watch ?? sharedEngine(options.connectionString, options.engine);
    this.#rawReads = new RawReadRouter(this.watch, identity.searchPath);
    startInBackground(this.watch);
    if (factory) StatementRouter.for(factory).add(this.watch);
    else {
      this.#logger.warn(
        "pgcachewatch: this client has no driver adapter; its reads are not cached and its writes invalidate only through the change source",
      );
    }
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
    this.#enabled = this.#hook(client);
  }

  handle(call: OperationCall): Promise<unknown> {
    const { model, operation, args, query } = call;
    if (model === undefined) return RAW_READS.has(operation) ? this.#rawRead(call) : query(args);
    if (CACHED.has(operation)) return this.#read(call, model);
    // Writes need nothing here: their SQL passes the engine, which invalidates what it wrote.
    return query(args);
  }

  /** Called at `_executeRequest` for a call marked by the hook: the cached read itself. */
  execute(
    client: unknown,
    request: PrismaRequest,
    call: CachedCall,
    run: () => Promise<unknown>,
  ): Promise<unknown> {
    if (readTransactionMarker(request)) {
      // Inside a transaction: straight to the database (it may see uncommitted rows).
      return this.watch.load({ key: undefined, inTransaction: true }, run);
    }
    if (request.model !== undefined) return this.#load(client, request, call, run);
    // Raw SQL: only a plain read may be shared by concurrent callers (and cached).
    const text = rawText(request.args);
    if (text === undefined) return run();
    const shareable = this.#rawReads.shareable(text, call.tables !== undefined, call.scope !== undefined);
    if (shareable === true) return this.#load(client, request, call, run);
    if (shareable === false) return run();
    return shareable.then((yes) => (yes ? this.#load(client, request, call, run) : run()));
  }

  #load(
    client: unknown,
    request: PrismaRequest,
    call: CachedCall,
    run: () => Promise<unknown>,
  ): Promise<unknown> {
    let key: string | undefined;
    try {
      key = requestKey(this.#namespace, client, request);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.watch
      .load(
        // One literal with every field (absent ones undefined): no spread objects per call.
        {
          key,
          name: request.clientMethod,
          tables: call.tables,
          ttl: call.ttl,
          tags: call.tags,
          scope: call.scope,
        },
        run,
      )
      .then((value) => writableSpine(value, request.args, request.dataPath));
  }

  #read(call: OperationCall, model: string): Promise<unknown> {
    const { operation, query } = call;
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
    const enabled =
      this.#enabled &&
      perCall !== false &&
      this.#operations.has(operation) &&
      (!this.#models || this.#models.has(model));
    if (enabled) {
      const settings = perCall || undefined;
      this.#mark(call, settings?.ttl ?? this.#ttl, settings?.tags, undefined, settings?.scope);
    }
    // No await before query(): a batch transaction needs every query requested synchronously.
    return query(args);
  }

  /** `$queryRaw` / `$queryRawUnsafe`: cached under the tables its SQL reads; `$queryRawCached` adds options. */
  #rawRead(call: OperationCall): Promise<unknown> {
    const original = readOriginalArgs(call.__internalParams);
    const options =
      typeof original === "object" && original !== null ? this.#rawOptions.get(original) : undefined;
    if (this.#enabled && (options || this.#cacheRaw)) {
      this.#mark(call, options?.ttl ?? this.#ttl, options?.tags, options?.tables, options?.scope);
    }
    return call.query(call.args);
  }

  #mark(
    call: OperationCall,
    ttl: number | undefined,
    tags: readonly string[] | undefined,
    tables: RawCacheOptions["tables"] | undefined,
    scope: string | undefined,
  ): void {
    const request = call.__internalParams;
    if (typeof request !== "object" || request === null) return;
    cachedCalls.set(request, { cache: this, ttl, tags, tables, scope: scope ?? this.#scope?.() });
  }

  /** Install the `_executeRequest` hook; false (never cache) when Prisma's internals are not as expected. */
  #hook(client: unknown): boolean {
    try {
      wrapExecuteRequest(client, cachingExecuteRequest);
      readExtensions(client);
      const names = new Set(readModelNames(client));
      const unknown = [...(this.#models ?? [])].filter((name) => !names.has(name));
      if (unknown.length > 0) {
        this.#logger.warn("pgcachewatch: `models` names models this schema does not have", { unknown });
      }
      return true;
    } catch (error) {
      this.#logger.error("pgcachewatch: caching is off for this client", { error: String(error) });
      return false;
    }
  }
}

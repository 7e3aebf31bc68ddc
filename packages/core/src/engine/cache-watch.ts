import { EventEmitter } from "node:events";
import { EngineStoppedError, InvalidOptionError } from "../errors.js";
import type { ChangeEvent } from "../events/change-event.js";
import { DEFAULT_SCHEMA, formatTable, type TableInput, type TableRef } from "../events/table-name.js";
import { type Logger, silentLogger } from "../logger.js";
import {
  cachedPgQuery,
  type PgQueryable,
  type PgQueryOptions,
  type PgQueryResult,
} from "../pg/cached-pg-query.js";
import type { ChangeSource } from "../sources/change-source.js";
import { createSource } from "../sources/create-source.js";
import type { CacheStore } from "../store/cache-store.js";
import { cloneAndMeasure, cloneValue, freezeAndMeasure, type IsolationMode } from "../store/clone.js";
import { MemoryStore } from "../store/memory-store.js";
import { toChannel } from "../triggers/channel.js";
import { ConnectionStates } from "./connection-states.js";
import { type Counters, newCounters } from "./counters.js";
import { DefaultAnalyzer } from "./default-analyzer.js";
import { DEFAULTS } from "./defaults.js";
import { type Dependencies, DependencyCollector } from "./dependency-collector.js";
import { entryRecordBytes, SETTLED_PROMISE_BYTES } from "./entry-bytes.js";
import { Flight, type Loader } from "./flight.js";
import { FlightRegistry } from "./flight-registry.js";
import { InvalidationClock } from "./invalidation-clock.js";
import type {
  CacheWatchEvents,
  InvalidateInfo,
  InvalidateReason,
  LoadControl,
  LoadRequest,
  Mutation,
  Statement,
} from "./load-request.js";
import { loadScope, runInLoadScope } from "./load-scope.js";
import {
  type BypassReason,
  type CacheObserver,
  combineObservers,
  type LoadObservation,
  type LoadOutcome,
  NO_OP_OBSERVER,
} from "./observer.js";
import type { CacheWatchOptions } from "./options.js";
import { returnedRows } from "./returned-rows.js";
import { RowColumns } from "./row-columns.js";
import { tableWideTags } from "./row-tags.js";
import type { SecondTier, SecondTierEntry, SecondTierToken } from "./second-tier.js";
import {
  isPromise,
  type RowWrite,
  type StatementAnalysis,
  type StatementAnalyzer,
} from "./statement-analysis.js";
import { type RunningWrite, StatementRunner } from "./statement-runner.js";
import { type CacheWatchStats, LatencyWindow } from "./stats.js";
import { refsOf, tableOfTag, tagsOf, userTag } from "./tags.js";
import { setUpTriggers } from "./trigger-setup.js";
import { writtenColumns } from "./written-rows.js";

export type {
  CacheWatchEvents,
  InvalidateInfo,
  InvalidateReason,
  LoadControl,
  LoadRequest,
  Mutation,
  Statement,
  UncachedInfo,
} from "./load-request.js";

const NEVER_ABORTED = new AbortController().signal;
const NO_OP_CONTROL: LoadControl = { doNotStore() {} };

type EngineState = "idle" | "starting" | "serving" | "lost" | "stopped";

/**
 * The engine, as the composition root of its parts: a bounded store, the invalidation clock
 * (fill guard), loads in flight (single flight), per-connection transactions, the statement
 * runner (dependencies and read-your-writes), and the change source's lifecycle. Create one per
 * process and database.
 */
export class CacheWatch extends EventEmitter<CacheWatchEvents> {
  readonly channel: string;
  readonly defaultSchema: string;
  readonly #options: CacheWatchOptions;
  readonly #logger: Logger;
  readonly #store: CacheStore;
  readonly #clock = new InvalidationClock();
  readonly #flights = new FlightRegistry();
  readonly #connections = new ConnectionStates();
  readonly #rowColumns = new RowColumns();
  readonly #statements: StatementRunner;
  readonly #latency = new LatencyWindow();
  readonly #counters: Counters = newCounters();
  readonly #maxEntryBytes: number;
  readonly #ttl: number;
  readonly #loadTimeout: number;
  /** Waiters after the first of one load get their own copy, in both isolation modes. */
  readonly #isolate = (value: unknown): unknown => cloneValue(value);
  readonly #isolation: IsolationMode;
  readonly #tier: SecondTier | undefined;
  readonly #observers: CacheObserver[] = [];
  /** All observers as one; a frozen no-op without any (set here, not tested on each call). */
  #observer: CacheObserver = NO_OP_OBSERVER;
  readonly #analyzer: StatementAnalyzer;
  #source: ChangeSource | undefined;
  /** Some entry was stored with an expiry: hits must read the clock. */
  #expiring = false;
  #state: EngineState = "idle";
  #everReady = false;
  #readyPromise: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #startPromise: Promise<void> | undefined;

  constructor(options: CacheWatchOptions = {}) {
    super();
    this.#options = options;
    this.channel = options.channel ?? DEFAULTS.channel;
    // A channel PostgreSQL would truncate or refuse: the listener would never become ready, or
    // would wait on another name than the triggers notify.
    toChannel(this.channel);
    this.defaultSchema = options.defaultSchema ?? DEFAULT_SCHEMA;
    this.#logger = options.logger ?? silentLogger;
    const maxBytes = options.maxBytes ?? DEFAULTS.maxBytes;
    this.#maxEntryBytes = options.maxEntryBytes ?? Math.floor(maxBytes / 16);
    this.#ttl = options.ttl ?? DEFAULTS.ttl;
    this.#loadTimeout = options.loadTimeout ?? 0;
    this.#isolation = options.isolation ?? "copy";
    this.#tier = options.secondTier;
    if (this.#isolation !== "copy" && this.#isolation !== "freeze") {
      throw new InvalidOptionError(
        "isolation",
        `expected "copy" or "freeze", got ${JSON.stringify(this.#isolation)}`,
      );
    }
    this.#analyzer =
      options.analyzer ??
      new DefaultAnalyzer({
        connectionString: options.connectionString ?? process.env.DATABASE_URL,
        logger: this.#logger,
      });
    if (options.observer) this.addObserver(options.observer);
    this.#store =
      options.store ??
      new MemoryStore({
        maxEntries: options.maxEntries ?? DEFAULTS.maxEntries,
        maxBytes,
        onRemove: (key, reason) => {
          if (reason === "evicted") this.#counters.evictions++;
          else if (reason === "expired") this.#counters.expirations++;
          this.#observer.removed(key, reason);
        },
      });
    this.#statements = new StatementRunner({
      analyzer: () => this.#analyzer,
      connections: this.#connections,
      beginWrite: (analysis, params) => this.#beginWrite(analysis, params),
    });
    this.#readyPromise = this.#newReadyPromise();
  }

  /** Resolves when the change source is first established and the cache serves. */
  get ready(): Promise<void> {
    return this.#readyPromise;
  }

  /** "idle" (not started), "starting", "serving", "lost" (source down, reads bypass) or "stopped". */
  get state(): EngineState {
    return this.#state;
  }

  /** True while the cache may serve and fill: the source is up and the engine not stopped. */
  isServing(): boolean {
    return this.#state === "serving";
  }

  /** Connect the change source; resolves once it is ready. Idempotent. Reads bypass the cache until then. */
  start(): Promise<void> {
    if (this.#state === "stopped") return Promise.reject(new EngineStoppedError());
    if (this.#startPromise) return this.#startPromise;
    this.#state = "starting";
    const connectionString = this.#options.connectionString ?? process.env.DATABASE_URL;
    this.#source = createSource({ ...this.#options, connectionString }, this.channel, this.#logger);
    const source = this.#source;
    if (!source) {
      this.#becomeReady();
      this.#startPromise = Promise.resolve();
      return this.#startPromise;
    }
    const triggers = this.#options.ensureTriggers;
    const setUp =
      triggers && triggers.length > 0 && (this.#options.source ?? "notify") === "notify"
        ? setUpTriggers({
            connectionString,
            tables: triggers,
            channel: this.channel,
            defaultSchema: this.defaultSchema,
            logger: this.#logger,
          })
        : Promise.resolve();
    this.#startPromise = setUp
      .then(() => {
        // stop() came while the triggers were being set up: no listener may connect after it.
        if (this.#state === "stopped") throw new EngineStoppedError();
        return source.start({
          onReady: () => this.#becomeReady(),
          onLost: (error) => this.#becomeLost(error),
          onChange: (event) => this.#handleChange(event),
          onMalformed: (detail, raw) => {
            this.#counters.malformedEvents++;
            this.#observer.malformedEvent(detail);
            this.#logger.warn("pgcachewatch skipped a malformed notification", {
              detail,
              payload: raw.slice(0, 200),
            });
          },
          onError: (error) => this.#emitError(error),
          onSchemaChange: () => this.#schemaChanged(),
        });
      })
      .then(() => {
        // stop() came while the source was starting: close what it opened meanwhile.
        if (this.#state === "stopped") return source.stop().then(() => this.#readyPromise);
        return this.#readyPromise;
      });
    return this.#startPromise;
  }

  /** Stop: in-flight loads finish, the source closes, timers are cleared, the cache is emptied. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    const wasReady = this.#everReady;
    this.#state = "stopped";
    if (!wasReady) this.#rejectReady(new EngineStoppedError());
    await this.#drainFlights();
    await this.#source?.stop();
    await this.#analyzer.close();
    this.#tier?.sourceState("stopped");
    this.#clock.markAll();
    this.#flush("stop");
  }

  /**
   * Loads in flight get `stopTimeout` ms to finish; then their waiters get EngineStoppedError and
   * their signals abort (a loader that never settles must not hold stop() forever).
   */
  async #drainFlights(): Promise<void> {
    const running = [...this.#flights.running];
    if (running.length === 0) return;
    const grace = this.#options.stopTimeout ?? DEFAULTS.stopTimeout;
    let timer: NodeJS.Timeout | undefined;
    const expired = await Promise.race([
      Promise.allSettled(running.map((flight) => flight.promise)).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), grace);
      }),
    ]);
    clearTimeout(timer);
    if (!expired) return;
    for (const flight of running) {
      if (flight.settled) continue;
      const error = new EngineStoppedError();
      this.#flights.remove(flight);
      flight.controller.abort(error);
      flight.reject(error);
    }
  }

  /**
   * Run a cacheable read. A hit returns an isolated copy without I/O; a miss runs `loader` once for
   * all concurrent callers of the key, and stores the result under the dependencies of the
   * statements it ran only if none of them changed meanwhile (the fill guard). Reads that must
   * not use the cache (no key, transaction, source down) run `loader` directly.
   */
  load<T>(request: LoadRequest, loader: Loader<T>): Promise<T> {
    // The hit path stays in this method and builds no closure: a closure here would make every
    // call allocate a context for the variables it captures, hits included.
    const key = request.scope === undefined ? request.key : scopedKey(request.key, request.scope);
    if (key === undefined || request.inTransaction === true || this.#state !== "serving") {
      return this.#notCached(key, request, loader);
    }
    // The clock is read only once some entry can expire (a ttl is in use).
    const entry = this.#store.get(key, this.#expiring ? Date.now() : 0);
    if (entry === undefined) return this.#notStored(key, request, loader);
    this.#counters.hits++;
    this.#observer.hit(request, key);
    // A cached read inside another load: the outer result depends on what this one read.
    // (No load running: no loader can be calling, and the context lookup is skipped.)
    if (this.#flights.running.size > 0) loadScope.getStore()?.addTags(entry.tags);
    // Freeze mode hands every caller the one frozen value, as one settled promise made at fill (a
    // hit allocates nothing); copy mode (and a frozen value that holds a Buffer, which cannot be
    // frozen) a copy of it.
    const settled = entry.settled;
    if (settled !== undefined) return settled as Promise<T>;
    return Promise.resolve((entry.shared === true ? entry.value : cloneValue(entry.value)) as T);
  }

  /** A read that must not use the cache (no key, transaction, source down). */
  #notCached<T>(key: string | undefined, request: LoadRequest, loader: Loader<T>): Promise<T> {
    this.#counters.bypassed++;
    this.#observer.bypass(request, bypassReason(key, request));
    // Our source is down, others' may not be: the second tier serves only what they cover.
    const tier = this.#tier;
    if (
      tier !== undefined &&
      key !== undefined &&
      request.inTransaction !== true &&
      this.#state !== "stopped"
    ) {
      return tier
        .get(key)
        .catch(missed)
        .then((entry) => (entry === undefined ? this.#bypass(request, loader) : (entry.value as T)));
    }
    return this.#bypass(request, loader);
  }

  /** A cacheable read that missed: shared with concurrent callers when its statement is a plain read. */
  #notStored<T>(key: string, request: LoadRequest, loader: Loader<T>): Promise<T> {
    if (request.statement !== undefined) {
      // Only a plain read may be shared by callers: two callers of one INSERT must both run it.
      const analysis = this.#analyzer.analyze(request.statement);
      if (isPromise(analysis)) {
        return analysis.then(
          (done) =>
            isSharedRead(done) ? this.#miss(key, request, loader) : this.#bypassCounted(request, loader),
          () => this.#bypassCounted(request, loader),
        );
      }
      if (!isSharedRead(analysis)) return this.#bypassCounted(request, loader);
    }
    return this.#miss(key, request, loader);
  }

  #bypassCounted<T>(request: LoadRequest, loader: Loader<T>): Promise<T> {
    this.#counters.bypassed++;
    this.#observer.bypass(request, "not-shared");
    return this.#bypass(request, loader);
  }

  #miss<T>(key: string, request: LoadRequest, loader: Loader<T>): Promise<T> {
    this.#counters.misses++;
    const joinable = this.#flights.joinable(key);
    this.#observer.miss(request, key, joinable !== undefined);
    let flight: Flight;
    try {
      flight = joinable ?? this.#startFlight(key, request, loader);
    } catch (error) {
      // A bad table name or tag: the caller's promise rejects, as every other failure does.
      return Promise.reject(error);
    }
    return flight.wait(request.signal, this.#isolate, () => this.#flights.remove(flight)) as Promise<T>;
  }

  /**
   * Run one statement through the engine: it is analysed and recorded against the load it
   * belongs to (if any), its connection's transaction state is tracked (BEGIN, COMMIT,
   * ROLLBACK), and a write invalidates what it touches as soon as it completes, or when its
   * transaction ends. Adapters call this for every statement they send.
   */
  runStatement<T>(statement: Statement, run: () => Promise<T>): Promise<T> {
    return this.#statements.run(statement, run);
  }

  /**
   * A raw SQL statement on a pg.Pool, pg.Client or PoolClient: a read is cached under the tables
   * it reads (derived from the SQL, no tables to name); a write runs and invalidates at once.
   */
  query<R = Record<string, unknown>>(
    client: PgQueryable,
    text: string,
    params?: readonly unknown[],
    options?: PgQueryOptions,
  ): Promise<PgQueryResult<R>> {
    return cachedPgQuery<R>(this, client, text, params, options);
  }

  /** Whether `connection` is inside a transaction that this engine saw begin. */
  inTransaction(connection: object | undefined): boolean {
    return this.#connections.inTransaction(connection);
  }

  /** For drivers whose transactions are not SQL text the engine sees: `connection` began one. */
  beginTransaction(connection: object): void {
    this.#connections.begin(connection);
  }

  /** ... and it ended (COMMIT or ROLLBACK): its writes are invalidated now. */
  endTransaction(connection: object): void {
    this.#connections.end(connection);
  }

  /** Complete `mutation` now, or when `connection`'s transaction ends. */
  completeMutation(mutation: Mutation, connection?: object): void {
    this.#connections.completeWrite(connection, mutation);
  }

  /** Mark the start of a write to `tables` (read-your-writes); complete() when it finished (after COMMIT in a transaction). */
  beginMutation(tables: readonly TableInput[]): Mutation {
    const refs = refsOf(tables, this.defaultSchema);
    const tags = refs.flatMap(tableWideTags);
    this.#clock.mark(tags);
    let completed = false;
    return {
      tables: refs,
      complete: (extraTables) => {
        if (completed) return;
        completed = true;
        const extra = refsOf(extraTables, this.defaultSchema);
        this.#invalidateTags([...refs, ...extra], [...tags, ...extra.flatMap(tableWideTags)], "mutation");
      },
    };
  }

  /**
   * A write the runner saw: its tables, or the rows it names of them, are marked before it runs
   * and invalidated when it completes, through the path a change event takes (`tagsOfChange`),
   * so a write and its event drop the same entries.
   */
  #beginWrite(analysis: StatementAnalysis, params: readonly unknown[] | undefined): RunningWrite {
    const refs = analysis.writes;
    const rows = refs.map((ref) => rowWriteOf(analysis.rowWrites, ref));
    const tagsOf = (columns: readonly (Record<string, string[]> | undefined)[]) =>
      refs.flatMap((ref, i) => this.#rowColumns.tagsOfChange(ref, columns[i]));
    // Before it runs, the rows its RETURNING will name are not known: their columns count as unknown.
    this.#clock.mark(tagsOf(rows.map((row) => row && writtenColumns(row, params, undefined))));
    return {
      finish: (result) => {
        const returned = rows.some((row) => row !== undefined) ? returnedRows(result) : undefined;
        const columns = rows.map((row) => row && writtenColumns(row, params, returned));
        let completed = false;
        return {
          tables: refs,
          complete: (extraTables) => {
            if (completed) return;
            completed = true;
            const extra = refsOf(extraTables, this.defaultSchema);
            // Tags now, not when it ran: loads since (in its transaction's lifetime) may constrain new columns.
            const tags = [...tagsOf(columns), ...extra.flatMap(tableWideTags)];
            this.#invalidateTags([...refs, ...extra], tags, "mutation");
          },
        };
      },
    };
  }

  /** Drop every entry that depends on one of `tables` or carries one of `tags`. Returns the number dropped. */
  invalidate(target: { tables?: readonly TableInput[]; tags?: readonly string[] }): number {
    const refs = refsOf(target.tables, this.defaultSchema);
    const tags = [...refs.flatMap(tableWideTags), ...(target.tags ?? []).map(userTag)];
    return this.#invalidateTags(refs, tags, "manual");
  }

  /** Drop everything. */
  invalidateAll(): number {
    this.#clock.markAll();
    this.#tier?.invalidateAll();
    return this.#flush("manual");
  }

  /** The engine's tags for a set of tables and user tags (adapters rarely need this). */
  tagsFor(tables: readonly TableInput[], tags?: readonly string[]): string[] {
    return tagsOf(tables, tags, this.defaultSchema);
  }

  /** Invalidate internal tags (strategies use their own namespace). */
  invalidateTags(tags: readonly string[], reason: InvalidateReason = "strategy"): number {
    return this.#invalidateTags([], tags, reason);
  }

  stats(): CacheWatchStats {
    return {
      ...this.#counters,
      entries: this.#store.size,
      bytes: this.#store.bytes,
      serving: this.isServing(),
      lastEventLatencyMs: this.#latency.last,
      p99EventLatencyMs: this.#latency.percentile(99),
      forgedEvents: this.#source?.forgedEvents ?? 0,
      notifyQueueUsage: this.#source?.queueUsage,
    };
  }

  /** The analyzer that reads the statements loads run (its counters show a hit does no analysis). */
  get analyzer(): StatementAnalyzer {
    return this.#analyzer;
  }

  /**
   * Entries and bytes per table they depend on, whole or by rows (a walk of the store: for the
   * inspector, not for every request). Empty for a store without `usageBy`.
   */
  tableUsage(): { table: string; entries: number; bytes: number }[] {
    const usage = this.#store.usageBy?.(tableOfTag);
    if (usage === undefined) return [];
    return [...usage].map(([table, { entries, bytes }]) => ({ table, entries, bytes }));
  }

  /** Attach an observer (metrics, traces, the inspector). Returns a function that detaches it. */
  addObserver(observer: CacheObserver): () => void {
    this.#observers.push(observer);
    this.#observer = combineObservers(this.#observers);
    return () => {
      const at = this.#observers.indexOf(observer);
      if (at < 0) return;
      this.#observers.splice(at, 1);
      this.#observer = combineObservers(this.#observers);
    };
  }

  /** The change source in use (undefined for `source: "none"` or before start). */
  get source(): ChangeSource | undefined {
    return this.#source;
  }

  #startFlight<T>(key: string, request: LoadRequest, loader: Loader<T>): Flight {
    const tier = this.#tier;
    // With a second tier a load is counted once it runs (a tier hit is no load).
    if (tier === undefined) this.#counters.loads++;
    const observation = this.#observer.loadStart(request, key);
    const startedAt = performance.now();
    const tick = this.#clock.snapshot();
    const declared = tagsOf(request.tables, request.tags, this.defaultSchema);
    let flight!: Flight;
    const dependencies = new DependencyCollector(
      declared,
      request.tables !== undefined,
      request.scope !== undefined,
      (tags) => this.#flights.addTags(flight, tags),
      (table, column) => this.#rowColumns.add(table, column),
    );
    flight = new Flight(key, dependencies);
    const ttl = request.ttl ?? this.#ttl;
    flight.setDeadline(this.#loadTimeout, () => {
      this.#counters.loadTimeouts++;
      this.#flights.remove(flight);
      this.#clock.release(tick);
      observation.end({ durationMs: performance.now() - startedAt, outcome: "timeout", tags: [] });
    });
    this.#flights.add(flight, declared);
    const run = () =>
      runInLoadScope(dependencies, () =>
        observation.run(() => loader(flight.controller.signal, flight.control)),
      );
    // The second tier is asked after the tick is taken: a hit fills the first tier only if the
    // fill guard allows, exactly as a load would.
    let tierHit: SecondTierEntry | undefined;
    let token: SecondTierToken | undefined;
    const loaded =
      tier === undefined
        ? Promise.resolve().then(run)
        : Promise.all([tier.get(key).catch(missed), tier.beginLoad().catch(missed)]).then(
            ([entry, begun]) => {
              if (entry !== undefined) {
                tierHit = entry;
                return entry.value;
              }
              // Timed out while the tier answered: nobody waits for this load.
              if (flight.settled) return undefined;
              token = begun;
              this.#counters.loads++;
              return run();
            },
          );
    loaded.then(
      (value) => {
        if (flight.settled) return;
        const durationMs = performance.now() - startedAt;
        this.#flights.remove(flight);
        flight.resolve(value);
        if (tierHit !== undefined) {
          const outcome = this.#fill(key, { tags: [...tierHit.tags] }, ttl, tick, value, undefined);
          this.#clock.release(tick);
          observation.end({ durationMs, outcome, tags: [...tierHit.tags] });
        } else if (flight.storable) {
          this.#fillWhenAnalysed(
            flight,
            dependencies.finish(),
            ttl,
            tick,
            value,
            observation,
            durationMs,
            token,
          );
        } else {
          this.#clock.release(tick);
          observation.end({ durationMs, outcome: "not-stored", tags: [] });
        }
      },
      (error: unknown) => {
        if (flight.settled) return;
        this.#flights.remove(flight);
        this.#counters.loadErrors++;
        this.#clock.release(tick);
        flight.reject(error);
        observation.end({ durationMs: performance.now() - startedAt, outcome: "error", tags: [], error });
      },
    );
    return flight;
  }

  #fillWhenAnalysed(
    flight: Flight,
    dependencies: Dependencies | Promise<Dependencies>,
    ttl: number,
    tick: number,
    value: unknown,
    observation: LoadObservation,
    durationMs: number,
    token: SecondTierToken | undefined,
  ): void {
    const key = flight.key as string;
    const fill = (done: Dependencies) => {
      const outcome = this.#fill(key, done, ttl, tick, value, token);
      observation.end({ durationMs, outcome, tags: done.problem === undefined ? done.tags : [] });
    };
    if (!(dependencies instanceof Promise)) {
      fill(dependencies);
      this.#clock.release(tick);
      return;
    }
    dependencies
      .then(fill, (error: unknown) => fill({ problem: `analysis failed: ${(error as Error).message}` }))
      .finally(() => this.#clock.release(tick));
  }

  /**
   * A read that does not touch the cache still keeps the caller's contract: loadTimeout bounds it and
   * aborting the caller's signal ends the wait with LoadAbortedError, as on the cached path (the
   * listener being down is exactly when queries may hang).
   */
  #bypass<T>(request: LoadRequest, loader: Loader<T>): Promise<T> {
    if (this.#loadTimeout <= 0 && request.signal === undefined) {
      return Promise.resolve().then(() => loader(NEVER_ABORTED, NO_OP_CONTROL));
    }
    const flight = new Flight(undefined, undefined);
    flight.setDeadline(this.#loadTimeout, () => {
      this.#counters.loadTimeouts++;
    });
    Promise.resolve()
      .then(() => loader(flight.controller.signal, NO_OP_CONTROL))
      .then(
        (value) => flight.resolve(value),
        (error: unknown) => flight.reject(error),
      );
    return flight.wait(request.signal, this.#isolate, () => {}) as Promise<T>;
  }

  #fill(
    key: string,
    dependencies: Dependencies,
    ttl: number,
    tick: number,
    value: unknown,
    token: SecondTierToken | undefined,
  ): LoadOutcome {
    if (dependencies.problem !== undefined) {
      this.#counters.fillsUncacheable++;
      if (this.listenerCount("uncached") > 0) this.emit("uncached", { key, reason: dependencies.problem });
      return "uncacheable";
    }
    const { tags } = dependencies;
    if (this.#state !== "serving" || !this.#clock.unchangedSince(tick, tags)) {
      this.#counters.fillsRejected++;
      return "rejected";
    }
    const recordBytes = entryRecordBytes(key, tags);
    // The copy stops as soon as it passes the budget: a huge result costs the budget, not its size.
    const budget = this.#maxEntryBytes - recordBytes;
    let stored: { value: unknown; bytes: number; shared: boolean } | undefined;
    try {
      if (this.#isolation === "freeze") {
        const frozen = freezeAndMeasure(value, budget);
        stored = frozen && { value: frozen.value, bytes: frozen.bytes, shared: frozen.shareable };
      } else {
        const copied = cloneAndMeasure(value, budget);
        stored = copied && { value: copied.copy, bytes: copied.bytes, shared: false };
      }
    } catch {
      // Nested deeper than the copier goes.
      stored = undefined;
    }
    if (stored === undefined) {
      this.#counters.fillsTooLarge++;
      return "too-large";
    }
    if (ttl > 0) this.#expiring = true;
    const kept = stored.value;
    // Made outside any load's scope: the promise must not keep a load's collector alive.
    const settled = stored.shared ? loadScope.exit(() => Promise.resolve(kept)) : undefined;
    // Every entry has the same fields, so the hit path reads one object shape.
    this.#store.set(key, {
      value: kept,
      bytes: stored.bytes + recordBytes + (stored.shared ? SETTLED_PROMISE_BYTES : 0),
      tags,
      expiresAt: ttl > 0 ? Date.now() + ttl : Number.POSITIVE_INFINITY,
      shared: stored.shared,
      settled,
    });
    // A load that filled the first tier fills the second; the tier checks its own marks against the token.
    if (token !== undefined) this.#tier?.fill(key, { value: stored.value, tags }, ttl, token);
    return "stored";
  }

  #invalidateTags(
    refs: readonly TableRef[],
    tags: readonly string[],
    reason: InvalidateReason,
    event?: ChangeEvent,
  ): number {
    this.#clock.mark(tags);
    // A caller arriving from now on must not join a load that may have read what just changed.
    this.#flights.detachTags(tags);
    let entries = 0;
    for (const tag of tags) entries += this.#store.deleteTag(tag);
    this.#tier?.invalidate(tags);
    this.#counters.invalidations++;
    this.#counters.entriesInvalidated += entries;
    const info: InvalidateInfo = {
      tables: refs.map(formatTable),
      tags,
      entries,
      reason,
      all: false,
      ...(event ? { event } : {}),
    };
    this.#observer.invalidated(info);
    this.emit("invalidate", info);
    return entries;
  }

  #flush(reason: InvalidateReason): number {
    this.#flights.detachAll();
    const entries = this.#store.clear();
    this.#counters.invalidations++;
    this.#counters.entriesInvalidated += entries;
    const info: InvalidateInfo = { tables: [], tags: [], entries, reason, all: true };
    this.#observer.invalidated(info);
    this.emit("invalidate", info);
    return entries;
  }

  #handleChange(event: ChangeEvent): void {
    this.#counters.eventsReceived++;
    const latencyMs = event.sentAt === undefined ? undefined : Math.max(0, event.receivedAt - event.sentAt);
    if (latencyMs !== undefined) this.#latency.record(latencyMs);
    this.#observer.changeEvent(event, latencyMs);
    const ref = { schema: event.schema, table: event.table };
    this.#invalidateTags([ref], this.#rowColumns.tagsOfChange(ref, event.columns), "change", event);
    this.emit("change", event);
  }

  /**
   * DDL ran (announced by the event trigger): a redefined view or a new table earlier in the
   * search_path changes results without any row changing. Names are read again, and what was
   * cached under the old schema is dropped.
   */
  #schemaChanged(): void {
    this.#analyzer.invalidateCatalog();
    this.#clock.markAll();
    this.#tier?.invalidateAll();
    this.#flush("schema");
  }

  #becomeReady(): void {
    if (this.#state === "stopped") return;
    // Anything cached before this point may have missed changes while the source was down.
    this.#clock.markAll();
    this.#flush("listener-ready");
    // The schema may have changed while nobody listened.
    this.#analyzer.invalidateCatalog();
    if (this.#everReady) this.#counters.reconnects++;
    this.#state = "serving";
    // Without a change source (`source: "none"`) this instance vouches for nothing in the shared tier.
    if (this.#source !== undefined) this.#tier?.sourceState("ready");
    this.#observer.sourceReady(this.#everReady);
    if (!this.#everReady) {
      this.#everReady = true;
      this.#resolveReady();
    }
    this.emit("ready");
  }

  #becomeLost(error: Error): void {
    if (this.#state === "stopped") return;
    this.#state = "lost";
    this.#counters.losses++;
    this.#tier?.sourceState("lost");
    this.#observer.sourceLost(error);
    this.#clock.markAll();
    this.#flush("listener-lost");
    this.emit("lost", error);
  }

  #emitError(error: Error): void {
    this.#logger.warn("pgcachewatch change source error", { error: error.message });
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  #newReadyPromise(): Promise<void> {
    const promise = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    promise.catch(() => {});
    return promise;
  }
}

/** A statement whose result callers may share: it reads, and neither writes, locks nor controls a transaction. */
function isSharedRead(analysis: StatementAnalysis): boolean {
  return (
    analysis.writes.length === 0 &&
    analysis.transaction === undefined &&
    (analysis.kind ?? "select") === "select"
  );
}

function bypassReason(key: string | undefined, request: LoadRequest): BypassReason {
  if (key === undefined) return "no-key";
  return request.inTransaction === true ? "transaction" : "not-serving";
}

function rowWriteOf(rowWrites: readonly RowWrite[] | undefined, ref: TableRef): RowWrite | undefined {
  return rowWrites?.find((row) => row.table.schema === ref.schema && row.table.table === ref.table);
}

/** A second tier that broke its promise never to reject: a miss. */
const missed = (): undefined => undefined;

/** A scope is part of the key: one scope's result is never another's. */
function scopedKey(key: string | undefined, scope: string): string | undefined {
  return key === undefined ? undefined : `${key}\u0001scope\u0000${scope}`;
}

/** Create the engine. Call `start()` to connect its listener. */
export function createCacheWatch(options: CacheWatchOptions = {}): CacheWatch {
  return new CacheWatch(options);
}

import { EventEmitter } from "node:events";
import pg from "pg";
import { EngineStoppedError, LoadAbortedError, LoadTimeoutError } from "../errors.js";
import type { ChangeEvent } from "../events/change-event.js";
import {
  DEFAULT_SCHEMA,
  formatTable,
  type TableInput,
  type TableRef,
  tableTag,
  toTableRef,
} from "../events/table-name.js";
import { type Logger, silentLogger } from "../logger.js";
import type { ChangeSource } from "../sources/change-source.js";
import { createSource } from "../sources/create-source.js";
import type { CacheStore } from "../store/cache-store.js";
import { cloneAndMeasure, cloneValue } from "../store/clone.js";
import { arrayBytes, CONS_STRING_BYTES, stringBytes } from "../store/heap-size.js";
import { MemoryStore } from "../store/memory-store.js";
import { toChannel } from "../triggers/channel.js";
import { ensureTriggers } from "../triggers/ensure.js";
import { InvalidationClock } from "./invalidation-clock.js";
import type { CacheWatchOptions } from "./options.js";
import { type CacheWatchStats, type CounterName, LatencyWindow } from "./stats.js";

/** A cached read as an adapter describes it. */
export interface LoadRequest {
  /** Identifies the result: adapters use the SQL text and its parameters (see `queryKey`). `undefined`: no faithful key exists, so the read is not cached. */
  key: string | undefined;
  /** Tables the result depends on; `undefined` means unknown, and the read is not cached (rule 5). */
  tables: readonly TableInput[] | undefined;
  /** A read inside a transaction may see uncommitted rows: it neither reads nor fills the cache (rule 3). */
  inTransaction?: boolean;
  /** Expiry of this entry in ms (overrides the engine's ttl; 0 = none). */
  ttl?: number;
  /** Aborting gives this caller a LoadAbortedError; other callers of the same key are unaffected. */
  signal?: AbortSignal;
  /** Extra tags for manual invalidation with `invalidate({ tags })`. */
  tags?: readonly string[];
}

export type InvalidateReason =
  | "change"
  | "mutation"
  | "manual"
  | "listener-lost"
  | "listener-ready"
  | "strategy"
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

export interface CacheWatchEvents {
  change: [event: ChangeEvent];
  invalidate: [info: InvalidateInfo];
  ready: [];
  lost: [error: Error];
  error: [error: Error];
}

/** What a loader may tell the engine about the result it is producing. */
export interface LoadControl {
  /**
   * Return the result to every waiter but do not store it: the loader found out its dependencies
   * were not what the request said (e.g. the SQL read a table the derivation missed).
   */
  doNotStore(): void;
}

/** A write in progress (rule 4): complete() once it finished, or after COMMIT when inside a transaction. */
export interface Mutation {
  readonly tables: readonly TableRef[];
  /** The write finished: invalidate its tables, plus `extraTables` it turned out to touch. Idempotent. */
  complete(extraTables?: readonly TableInput[]): void;
}

interface Flight {
  /** The tags of what it reads: an invalidation of one of them detaches it (see #detachFlights). */
  tags: readonly string[];
  promise: Promise<unknown>;
  controller: AbortController;
  waiters: number;
  settled: boolean;
  handedOut: boolean;
  storable: boolean;
}

/** A StoreEntry: a 3-word header, 4 fields, and expiresAt boxed as a heap number. */
const ENTRY_RECORD_BYTES = 72;
const NEVER_ABORTED = new AbortController().signal;
const NO_OP_CONTROL: LoadControl = { doNotStore() {} };
const DEFAULTS = {
  channel: "pgcachewatch",
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  ttl: 5 * 60_000,
};

/**
 * The engine: a bounded store, table-tag invalidation driven by a change source, and the
 * consistency rules of the design (fill guard, listener loss, transactions, read-your-writes,
 * unknown dependencies, isolation, errors and aborts, bounds). Create one per process and database.
 */
export class CacheWatch extends EventEmitter<CacheWatchEvents> {
  readonly channel: string;
  readonly defaultSchema: string;
  readonly #options: CacheWatchOptions;
  readonly #logger: Logger;
  readonly #store: CacheStore;
  readonly #clock = new InvalidationClock();
  /** Loads a new caller of the key may join. */
  readonly #flights = new Map<string, Flight>();
  /** Every load still running, joinable or not (stop() waits for them). */
  readonly #running = new Set<Flight>();
  readonly #latency = new LatencyWindow();
  readonly #counters: Record<CounterName, number>;
  readonly #maxEntryBytes: number;
  readonly #ttl: number;
  #source: ChangeSource | undefined;
  #state: "idle" | "starting" | "serving" | "lost" | "stopped" = "idle";
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
    this.#counters = {
      hits: 0,
      misses: 0,
      loads: 0,
      fillsRejected: 0,
      fillsTooLarge: 0,
      invalidations: 0,
      entriesInvalidated: 0,
      evictions: 0,
      expirations: 0,
      bypassed: 0,
      eventsReceived: 0,
      malformedEvents: 0,
      reconnects: 0,
      losses: 0,
      loadErrors: 0,
      loadTimeouts: 0,
      entries: 0,
      bytes: 0,
    };
    this.#store =
      options.store ??
      new MemoryStore({
        maxEntries: options.maxEntries ?? DEFAULTS.maxEntries,
        maxBytes,
        onRemove: (_key, reason) => {
          if (reason === "evicted") this.#counters.evictions++;
          else if (reason === "expired") this.#counters.expirations++;
        },
      });
    this.#readyPromise = this.#newReadyPromise();
  }

  /** Resolves when the change source is first established and the cache serves. */
  get ready(): Promise<void> {
    return this.#readyPromise;
  }

  /** "idle" (not started), "starting", "serving", "lost" (source down, reads bypass) or "stopped". */
  get state(): "idle" | "starting" | "serving" | "lost" | "stopped" {
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
    this.#source = createSource(
      { ...this.#options, connectionString: this.#options.connectionString ?? process.env.DATABASE_URL },
      this.channel,
      this.#logger,
    );
    const source = this.#source;
    if (!source) {
      this.#becomeReady();
      this.#startPromise = Promise.resolve();
      return this.#startPromise;
    }
    this.#startPromise = this.#ensureTriggers()
      .then(() =>
        source.start({
          onReady: () => this.#becomeReady(),
          onLost: (error) => this.#becomeLost(error),
          onChange: (event) => this.#handleChange(event),
          onMalformed: (detail, raw) => {
            this.#counters.malformedEvents++;
            this.#logger.warn("pgcachewatch skipped a malformed notification", {
              detail,
              payload: raw.slice(0, 200),
            });
          },
          onError: (error) => this.#emitError(error),
        }),
      )
      .then(() => this.#readyPromise);
    return this.#startPromise;
  }

  async #ensureTriggers(): Promise<void> {
    const tables = this.#options.ensureTriggers;
    if (!tables || tables.length === 0 || (this.#options.source ?? "notify") !== "notify") return;
    const client = new pg.Client({
      connectionString: this.#options.connectionString ?? process.env.DATABASE_URL,
    });
    await client.connect();
    try {
      const result = await ensureTriggers(client, {
        tables,
        channel: this.channel,
        defaultSchema: this.defaultSchema,
      });
      if (result.installed.length > 0) {
        this.#logger.info("pgcachewatch installed missing triggers", {
          tables: result.installed.map(formatTable),
        });
      }
    } finally {
      await client.end();
    }
  }

  /** Stop: in-flight loads finish, the source closes, timers are cleared, the cache is emptied. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    const wasReady = this.#everReady;
    this.#state = "stopped";
    if (!wasReady) this.#rejectReady(new EngineStoppedError());
    await Promise.allSettled([...this.#running].map((flight) => flight.promise));
    await this.#source?.stop();
    this.#clock.markAll();
    this.#flush("stop");
  }

  /**
   * Run a cacheable read. A hit returns an isolated copy without I/O; a miss runs `loader` once for
   * all concurrent callers of the key and stores the result only if nothing it depends on changed
   * meanwhile. Reads that must not use the cache (unknown tables, transaction, listener down) run
   * `loader` directly.
   */
  async load<T>(
    request: LoadRequest,
    loader: (signal: AbortSignal, control: LoadControl) => Promise<T>,
  ): Promise<T> {
    const key = request.key;
    if (
      key === undefined ||
      request.tables === undefined ||
      request.inTransaction === true ||
      this.#state !== "serving"
    ) {
      this.#counters.bypassed++;
      return this.#bypass(request, loader);
    }
    const entry = this.#store.get(key, Date.now());
    if (entry !== undefined) {
      this.#counters.hits++;
      return cloneValue(entry.value) as T;
    }
    this.#counters.misses++;
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      const tags = this.tagsFor(request.tables, request.tags);
      flight = this.#startFlight(key, tags, request.ttl ?? this.#ttl, loader);
    }
    return this.#wait(flight, request.signal) as Promise<T>;
  }

  /** Mark the start of a write to `tables` (rule 4); call complete() when it finished (after COMMIT in a transaction). */
  beginMutation(tables: readonly TableInput[]): Mutation {
    const refs = tables.map((t) => toTableRef(t, this.defaultSchema));
    const tags = refs.map(tableTag);
    this.#clock.mark(tags);
    let completed = false;
    return {
      tables: refs,
      complete: (extraTables) => {
        if (completed) return;
        completed = true;
        const extra = (extraTables ?? []).map((t) => toTableRef(t, this.defaultSchema));
        this.#invalidateTags([...refs, ...extra], [...tags, ...extra.map(tableTag)], "mutation");
      },
    };
  }

  /** Drop every entry that depends on one of `tables` or carries one of `tags`. Returns the number dropped. */
  invalidate(target: { tables?: readonly TableInput[]; tags?: readonly string[] }): number {
    const refs = (target.tables ?? []).map((t) => toTableRef(t, this.defaultSchema));
    const tags = [...refs.map(tableTag), ...(target.tags ?? []).map(userTag)];
    return this.#invalidateTags(refs, tags, "manual");
  }

  /** Drop everything. */
  invalidateAll(): number {
    this.#clock.markAll();
    return this.#flush("manual");
  }

  /** The engine's tags for a set of tables and user tags (adapters rarely need this). */
  tagsFor(tables: readonly TableInput[], tags?: readonly string[]): string[] {
    // Sized up front: an entry keeps this array, and growing it by push would leave spare slots.
    const result = new Array<string>(tables.length + (tags?.length ?? 0));
    let i = 0;
    for (const table of tables) result[i++] = tableTag(toTableRef(table, this.defaultSchema));
    if (tags) for (const tag of tags) result[i++] = userTag(tag);
    return result;
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
    };
  }

  /** The change source in use (undefined for `source: "none"` or before start). */
  get source(): ChangeSource | undefined {
    return this.#source;
  }

  #startFlight(
    key: string,
    tags: string[],
    ttl: number,
    loader: (signal: AbortSignal, control: LoadControl) => Promise<unknown>,
  ): Flight {
    this.#counters.loads++;
    const tick = this.#clock.snapshot();
    const controller = new AbortController();
    let settle!: { resolve: (value: unknown) => void; reject: (error: unknown) => void };
    const flight: Flight = {
      tags,
      promise: new Promise((resolve, reject) => {
        settle = { resolve, reject };
      }),
      controller,
      waiters: 0,
      settled: false,
      handedOut: false,
      storable: true,
    };
    const control: LoadControl = {
      doNotStore: () => {
        flight.storable = false;
      },
    };
    // Nobody may be waiting when it settles (all aborted); never let that become an unhandled rejection.
    flight.promise.catch(() => {});
    const finish = () => {
      if (flight.settled) return false;
      flight.settled = true;
      clearTimeout(timer);
      this.#clock.release(tick);
      this.#running.delete(flight);
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
      return true;
    };
    const timeoutMs = this.#options.loadTimeout ?? 0;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            const error = new LoadTimeoutError(key, timeoutMs);
            if (!finish()) return;
            this.#counters.loadTimeouts++;
            controller.abort(error);
            settle.reject(error);
          }, timeoutMs)
        : undefined;
    this.#flights.set(key, flight);
    this.#running.add(flight);
    Promise.resolve()
      .then(() => loader(controller.signal, control))
      .then(
        (value) => {
          if (flight.settled) return;
          if (flight.storable) this.#fill(key, tags, ttl, tick, value);
          finish();
          settle.resolve(value);
        },
        (error: unknown) => {
          if (!finish()) return;
          this.#counters.loadErrors++;
          settle.reject(error);
        },
      );
    return flight;
  }

  #wait(flight: Flight, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(new LoadAbortedError(signal.reason));
    flight.waiters++;
    return new Promise((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        flight.waiters--;
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        leave();
        reject(new LoadAbortedError(signal?.reason));
        // The last waiter gone: cancel the load and let the next caller start afresh.
        if (flight.waiters === 0 && !flight.settled) {
          flight.controller.abort(signal?.reason);
          for (const [key, f] of this.#flights) if (f === flight) this.#flights.delete(key);
          // Abandoned: nobody waits for it, and stop() need not either (its loader may ignore the abort).
          this.#running.delete(flight);
        }
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (value) => {
          if (left) return;
          leave();
          resolve(this.#handOut(flight, value));
        },
        (error: unknown) => {
          if (left) return;
          leave();
          reject(error);
        },
      );
    });
  }

  /**
   * The first waiter gets the loaded value itself (the store holds its own copy); the others get
   * copies. A value that cannot be copied (cyclic, or nested deeper than the copier goes) was not
   * cached either; its waiters share it rather than wait forever for a copy.
   */
  #handOut(flight: Flight, value: unknown): unknown {
    if (!flight.handedOut) {
      flight.handedOut = true;
      return value;
    }
    try {
      return cloneValue(value);
    } catch {
      return value;
    }
  }

  /**
   * A read that does not touch the cache still keeps the caller's contract: loadTimeout bounds it and
   * aborting the caller's signal ends the wait with LoadAbortedError, as on the cached path (the
   * listener being down is exactly when queries may hang).
   */
  #bypass<T>(
    request: LoadRequest,
    loader: (signal: AbortSignal, control: LoadControl) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.#options.loadTimeout ?? 0;
    const signal = request.signal;
    if (timeoutMs <= 0 && signal === undefined)
      return Promise.resolve().then(() => loader(NEVER_ABORTED, NO_OP_CONTROL));
    if (signal?.aborted) return Promise.reject(new LoadAbortedError(signal.reason));
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        if (done) return;
        finish();
        controller.abort(signal?.reason);
        reject(new LoadAbortedError(signal?.reason));
      };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (done) return;
              finish();
              this.#counters.loadTimeouts++;
              const error = new LoadTimeoutError(request.key ?? "(uncached read)", timeoutMs);
              controller.abort(error);
              reject(error);
            }, timeoutMs)
          : undefined;
      signal?.addEventListener("abort", onAbort, { once: true });
      Promise.resolve()
        .then(() => loader(controller.signal, NO_OP_CONTROL))
        .then(
          (value) => {
            if (done) return;
            finish();
            resolve(value);
          },
          (error: unknown) => {
            if (done) return;
            finish();
            reject(error);
          },
        );
    });
  }

  #fill(key: string, tags: string[], ttl: number, tick: number, value: unknown): void {
    if (this.#state !== "serving" || !this.#clock.unchangedSince(tick, tags)) {
      this.#counters.fillsRejected++;
      return;
    }
    let measured: { copy: unknown; bytes: number };
    try {
      measured = cloneAndMeasure(value);
    } catch {
      this.#counters.fillsTooLarge++;
      return;
    }
    const bytes = measured.bytes + entryRecordBytes(key, tags);
    if (bytes > this.#maxEntryBytes) {
      this.#counters.fillsTooLarge++;
      return;
    }
    this.#store.set(key, {
      value: measured.copy,
      bytes,
      tags,
      expiresAt: ttl > 0 ? Date.now() + ttl : Number.POSITIVE_INFINITY,
    });
  }

  #invalidateTags(
    refs: readonly TableRef[],
    tags: readonly string[],
    reason: InvalidateReason,
    event?: ChangeEvent,
  ): number {
    this.#clock.mark(tags);
    this.#detachFlights(tags);
    let entries = 0;
    for (const tag of tags) entries += this.#store.deleteTag(tag);
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
    this.emit("invalidate", info);
    return entries;
  }

  #flush(reason: InvalidateReason): number {
    this.#flights.clear();
    const entries = this.#store.clear();
    this.#counters.invalidations++;
    this.#counters.entriesInvalidated += entries;
    this.emit("invalidate", { tables: [], tags: [], entries, reason, all: true });
    return entries;
  }

  /**
   * A load in flight may have read what just changed. Its result is not stored (the fill guard), but
   * a caller arriving from now on must not join it either: that caller started after the change was
   * delivered and must see it. Such a load stays running for the callers it already has, and the
   * next caller of its key starts a new one.
   */
  #detachFlights(tags: readonly string[]): void {
    if (this.#flights.size === 0 || tags.length === 0) return;
    const changed = new Set(tags);
    for (const [key, flight] of this.#flights) {
      if (flight.tags.some((tag) => changed.has(tag))) this.#flights.delete(key);
    }
  }

  #handleChange(event: ChangeEvent): void {
    this.#counters.eventsReceived++;
    if (event.sentAt !== undefined) this.#latency.record(Math.max(0, event.receivedAt - event.sentAt));
    const ref = { schema: event.schema, table: event.table };
    this.#invalidateTags([ref], [tableTag(ref)], "change", event);
    this.emit("change", event);
  }

  #becomeReady(): void {
    if (this.#state === "stopped") return;
    // Anything cached before this point may have missed changes while the source was down (rule 2).
    this.#clock.markAll();
    this.#flush("listener-ready");
    if (this.#everReady) this.#counters.reconnects++;
    this.#state = "serving";
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

/**
 * What an entry holds besides its value: the entry record (4 fields, its expiry a boxed number),
 * its key, its array of tags and the tags. Keys and tags are built by concatenation, so each may be
 * a cons string over its flat copy.
 */
function entryRecordBytes(key: string, tags: readonly string[]): number {
  let bytes = ENTRY_RECORD_BYTES + CONS_STRING_BYTES + stringBytes(key) + arrayBytes(tags.length);
  for (const tag of tags) bytes += CONS_STRING_BYTES + stringBytes(tag);
  return bytes;
}

/** Namespace for tags users attach with `LoadRequest.tags`. */
function userTag(tag: string): string {
  return `u\u0000${tag}`;
}

/** Create the engine. Call `start()` to connect its listener. */
export function createCacheWatch(options: CacheWatchOptions = {}): CacheWatch {
  return new CacheWatch(options);
}

import type { ChangeEvent } from "../events/change-event.js";
import type { RemovalReason } from "../store/cache-store.js";
import type { InvalidateInfo, LoadRequest } from "./load-request.js";

/** Why a read went straight to the database. */
/** Why a read went straight to the database; "not-shared": its statement writes or controls a transaction. */
export type BypassReason = "no-key" | "transaction" | "not-serving" | "not-shared";

/**
 * What became of a load's result: stored, or why not. `rejected`: what it read changed while it
 * ran (the fill guard); `too-large`: over maxEntryBytes or not copyable; `uncacheable`: its
 * statements cannot be cached (a write, a transaction, an opaque statement); `not-stored`: the
 * loader said so (`doNotStore()`); `error` and `timeout`: the load failed.
 */
export type LoadOutcome =
  | "stored"
  | "rejected"
  | "too-large"
  | "uncacheable"
  | "not-stored"
  | "error"
  | "timeout";

export interface LoadResult {
  /** Time the loader ran, in ms (until its value or error; analysis after it not included). */
  readonly durationMs: number;
  readonly outcome: LoadOutcome;
  /**
   * The tags the result depends on; empty when not known. Row tags carry the rows' key values:
   * export tables (`tableOfTag`), never tags as they are.
   */
  readonly tags: readonly string[];
  /** The loader's error, for outcome "error" or "timeout". */
  readonly error?: unknown;
}

/** One load in progress, as an observer follows it (a span, a timer). */
export interface LoadObservation {
  /** Runs the loader: an observer may run it in its own context (a tracer makes the load's span active). */
  run<T>(loader: () => T): T;
  end(result: LoadResult): void;
}

/**
 * Hooks into the engine for metrics, traces and the inspector. Every method is called
 * synchronously on the engine's path and must not throw; a hit costs one call. Use
 * `NO_OP_OBSERVER`'s methods as a base, or extend `CacheObserverBase`.
 */
export interface CacheObserver {
  /** A read served from the cache. `key` is the engine's key (scoped keys included). */
  hit(request: LoadRequest, key: string): void;
  /** A cacheable read that was not in the cache: it joined a load in flight (`joined`) or starts one. */
  miss(request: LoadRequest, key: string, joined: boolean): void;
  /** A read that did not use the cache. */
  bypass(request: LoadRequest, reason: BypassReason): void;
  /** A load starts (after a miss that did not join one). */
  loadStart(request: LoadRequest, key: string): LoadObservation;
  /** An invalidation ran (a change event, a mutation, a manual call, a flush). */
  invalidated(info: InvalidateInfo): void;
  /** An entry left the store: evicted for size, expired, or dropped (invalidated or replaced). */
  removed(key: string, reason: RemovalReason): void;
  /** A change event arrived; `latencyMs` from the server's timestamp to its arrival, when known. */
  changeEvent(event: ChangeEvent, latencyMs: number | undefined): void;
  /** A message on the channel that was not a change event. */
  malformedEvent(detail: string): void;
  /** The change source is delivering; `reconnect` when it had been ready before. */
  sourceReady(reconnect: boolean): void;
  /** The change source was lost. */
  sourceLost(error: Error): void;
}

const NO_OP_LOAD: LoadObservation = Object.freeze({
  run: <T>(loader: () => T): T => loader(),
  end() {},
});

/** Observes nothing; what the engine uses without an observer (a frozen object: one shape for every call site). */
export const NO_OP_OBSERVER: CacheObserver = Object.freeze({
  hit() {},
  miss() {},
  bypass() {},
  loadStart: () => NO_OP_LOAD,
  invalidated() {},
  removed() {},
  changeEvent() {},
  malformedEvent() {},
  sourceReady() {},
  sourceLost() {},
});

/** What `CacheObserverBase.loadStart` returns: runs the loader as is, observes nothing. */
export const NO_OP_LOAD_OBSERVATION: LoadObservation = NO_OP_LOAD;

/** A base class whose methods do nothing: override what you observe. */
export class CacheObserverBase implements CacheObserver {
  hit(_request: LoadRequest, _key: string): void {}
  miss(_request: LoadRequest, _key: string, _joined: boolean): void {}
  bypass(_request: LoadRequest, _reason: BypassReason): void {}
  loadStart(_request: LoadRequest, _key: string): LoadObservation {
    return NO_OP_LOAD;
  }
  invalidated(_info: InvalidateInfo): void {}
  removed(_key: string, _reason: RemovalReason): void {}
  changeEvent(_event: ChangeEvent, _latencyMs: number | undefined): void {}
  malformedEvent(_detail: string): void {}
  sourceReady(_reconnect: boolean): void {}
  sourceLost(_error: Error): void {}
}

/** Several observers as one (the engine uses it only when more than one is attached). */
export class ObserverFanout implements CacheObserver {
  readonly #observers: readonly CacheObserver[];

  constructor(observers: readonly CacheObserver[]) {
    this.#observers = observers;
  }

  hit(request: LoadRequest, key: string): void {
    for (const o of this.#observers) o.hit(request, key);
  }
  miss(request: LoadRequest, key: string, joined: boolean): void {
    for (const o of this.#observers) o.miss(request, key, joined);
  }
  bypass(request: LoadRequest, reason: BypassReason): void {
    for (const o of this.#observers) o.bypass(request, reason);
  }
  loadStart(request: LoadRequest, key: string): LoadObservation {
    const loads = this.#observers.map((o) => o.loadStart(request, key));
    return {
      run<T>(loader: () => T): T {
        let run = loader;
        for (const load of loads) {
          const inner = run;
          run = () => load.run(inner);
        }
        return run();
      },
      end(result) {
        for (const load of loads) load.end(result);
      },
    };
  }
  invalidated(info: InvalidateInfo): void {
    for (const o of this.#observers) o.invalidated(info);
  }
  removed(key: string, reason: RemovalReason): void {
    for (const o of this.#observers) o.removed(key, reason);
  }
  changeEvent(event: ChangeEvent, latencyMs: number | undefined): void {
    for (const o of this.#observers) o.changeEvent(event, latencyMs);
  }
  malformedEvent(detail: string): void {
    for (const o of this.#observers) o.malformedEvent(detail);
  }
  sourceReady(reconnect: boolean): void {
    for (const o of this.#observers) o.sourceReady(reconnect);
  }
  sourceLost(error: Error): void {
    for (const o of this.#observers) o.sourceLost(error);
  }
}

/** The one observer to call for a list of them. */
export function combineObservers(observers: readonly CacheObserver[]): CacheObserver {
  if (observers.length === 0) return NO_OP_OBSERVER;
  if (observers.length === 1) return observers[0] as CacheObserver;
  return new ObserverFanout([...observers]);
}

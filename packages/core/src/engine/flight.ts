import { LoadAbortedError, LoadTimeoutError } from "../errors.js";
import type { DependencyCollector } from "./dependency-collector.js";
import type { LoadControl } from "./load-request.js";

export type Loader<T> = (signal: AbortSignal, control: LoadControl) => Promise<T>;

/**
 * One run of a loader, shared by every caller that waits for it (single flight). It owns its
 * abort controller and deadline; each waiter may leave on its own signal, and when the last one
 * leaves the run is aborted so the next caller starts afresh. A read that bypasses the cache is
 * a flight too, unregistered and never stored, so both paths keep the same timeout and abort
 * contract.
 */
export class Flight {
  readonly key: string | undefined;
  readonly controller = new AbortController();
  readonly promise: Promise<unknown>;
  /** What the run read, reported statement by statement (undefined for a bypassed read). */
  readonly dependencies: DependencyCollector | undefined;
  /** Tags it is indexed under in the registry (so it can be unindexed when it settles). */
  indexedTags: string[] | undefined;
  waiters = 0;
  settled = false;
  /** Set when the last waiter left: nobody waits, stop() need not either. */
  abandoned = false;
  storable = true;
  #handedOut = false;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(key: string | undefined, dependencies: DependencyCollector | undefined) {
    this.key = key;
    this.dependencies = dependencies;
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may be waiting when it settles (all aborted); never let that become an unhandled rejection.
    this.promise.catch(() => {});
  }

  readonly control: LoadControl = {
    doNotStore: () => {
      this.storable = false;
    },
  };

  /** Fail every waiter with LoadTimeoutError after `ms` (0: no deadline). */
  setDeadline(ms: number, onTimeout: () => void): void {
    if (ms <= 0) return;
    this.#timer = setTimeout(() => {
      const error = new LoadTimeoutError(this.key ?? "(uncached read)", ms);
      if (!this.#settle()) return;
      onTimeout();
      this.controller.abort(error);
      this.#reject(error);
    }, ms);
  }

  /** Settle with the loader's value; false when the flight had already ended (timeout). */
  resolve(value: unknown): boolean {
    if (!this.#settle()) return false;
    this.#resolve(value);
    return true;
  }

  reject(error: unknown): boolean {
    if (!this.#settle()) return false;
    this.#reject(error);
    return true;
  }

  /**
   * Wait for the result. `isolate` gives every waiter but the first its own copy (the first
   * gets the loaded value itself; the store keeps its own copy). `onAbandoned` runs when the
   * last waiter left before the flight settled.
   */
  wait(
    signal: AbortSignal | undefined,
    isolate: (value: unknown) => unknown,
    onAbandoned: () => void,
  ): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(new LoadAbortedError(signal.reason));
    this.waiters++;
    if (signal === undefined) {
      return this.promise.then(
        (value) => {
          this.waiters--;
          return this.#handOut(value, isolate);
        },
        (error: unknown) => {
          this.waiters--;
          throw error;
        },
      );
    }
    return new Promise((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return false;
        left = true;
        this.waiters--;
        signal.removeEventListener("abort", onAbort);
        return true;
      };
      const onAbort = () => {
        if (!leave()) return;
        reject(new LoadAbortedError(signal.reason));
        if (this.waiters === 0 && !this.settled) {
          this.abandoned = true;
          // Nobody tracks it any more (nested reads included): its result is not stored.
          this.storable = false;
          this.controller.abort(signal.reason);
          onAbandoned();
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.promise.then(
        (value) => {
          if (leave()) resolve(this.#handOut(value, isolate));
        },
        (error: unknown) => {
          if (leave()) reject(error);
        },
      );
    });
  }

  /**
   * A value that cannot be copied (nested deeper than the copier goes) was not cached either;
   * its waiters share it rather than wait forever for a copy.
   */
  #handOut(value: unknown, isolate: (value: unknown) => unknown): unknown {
    if (!this.#handedOut) {
      this.#handedOut = true;
      return value;
    }
    try {
      return isolate(value);
    } catch {
      return value;
    }
  }

  #settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.#timer);
    return true;
  }
}

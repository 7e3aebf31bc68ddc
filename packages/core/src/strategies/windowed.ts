import type { CacheWatch } from "../engine/cache-watch.js";
import { InvalidOptionError } from "../errors.js";
import type { ChangeEvent } from "../events/change-event.js";
import type { Strategy } from "./strategy.js";

export interface WindowedOptions {
  listener: CacheWatch;
  /** Clear once this many accepted events have arrived since the last clear. */
  size: number;
  /** ...or once this many ms have passed since the first accepted event after the last clear, whichever comes first. */
  maxWait: number;
  predicate?: (event: ChangeEvent) => boolean;
}

/**
 * Batch invalidations: clear once per window of `size` events or `maxWait` ms. This is the
 * documented meaning of the original's Windowed ("invalidates once a window of N events or T
 * seconds is reached"); its code instead compared the last N operations with a fixed sequence.
 * Readers may see data up to one window old: choose it only where that is acceptable.
 */
export class Windowed implements Strategy {
  readonly listener: CacheWatch;
  readonly #options: WindowedOptions;

  constructor(options: WindowedOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new InvalidOptionError("Windowed.size", "must be a positive integer");
    if (!(options.maxWait > 0))
      throw new InvalidOptionError("Windowed.maxWait", "must be a positive number of ms");
    this.listener = options.listener;
    this.#options = options;
  }

  attach(clear: () => void): () => void {
    const { size, maxWait, predicate } = this.#options;
    let pending = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      pending = 0;
      clearTimeout(timer);
      timer = undefined;
      clear();
    };
    const onChange = (event: ChangeEvent) => {
      if (predicate && !predicate(event)) return;
      pending++;
      if (pending >= size) return flush();
      if (timer === undefined) {
        timer = setTimeout(flush, maxWait);
        timer.unref();
      }
    };
    this.listener.on("change", onChange);
    return () => {
      clearTimeout(timer);
      this.listener.off("change", onChange);
    };
  }
}

import type { CacheWatch } from "../engine/cache-watch.js";
import { InvalidOptionError } from "../errors.js";
import type { Strategy } from "./strategy.js";

export interface TimedOptions {
  listener: CacheWatch;
  /** Clear every `interval` ms, whatever the database does. */
  interval: number;
}

/**
 * Clear at fixed intervals regardless of events: the documented meaning of the original's Timed
 * ("invalidation occurs strictly based on time intervals"). Its code instead cleared on an event
 * when more than the interval had passed since the previous clear.
 */
export class Timed implements Strategy {
  readonly listener: CacheWatch;
  readonly #interval: number;

  constructor(options: TimedOptions) {
    if (!(options.interval > 0))
      throw new InvalidOptionError("Timed.interval", "must be a positive number of ms");
    this.listener = options.listener;
    this.#interval = options.interval;
  }

  attach(clear: () => void): () => void {
    const timer = setInterval(clear, this.#interval);
    timer.unref();
    return () => clearInterval(timer);
  }
}

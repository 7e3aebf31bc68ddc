import type { CacheWatch } from "../engine/cache-watch.js";
import type { ChangeEvent } from "../events/change-event.js";
import type { Strategy } from "./strategy.js";

export interface GreedyOptions {
  listener: CacheWatch;
  /** Which events clear the cache. Default: every event. */
  predicate?: (event: ChangeEvent) => boolean;
}

/** Clear on every event the predicate accepts, immediately. */
export class Greedy implements Strategy {
  readonly listener: CacheWatch;
  readonly #predicate: (event: ChangeEvent) => boolean;

  constructor(options: GreedyOptions) {
    this.listener = options.listener;
    this.#predicate = options.predicate ?? (() => true);
  }

  attach(clear: () => void): () => void {
    const onChange = (event: ChangeEvent) => {
      if (this.#predicate(event)) clear();
    };
    this.listener.on("change", onChange);
    return () => this.listener.off("change", onChange);
  }
}

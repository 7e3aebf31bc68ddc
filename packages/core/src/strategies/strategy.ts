import type { CacheWatch } from "../engine/cache-watch.js";

/**
 * Decides when the entries of one cached function are cleared, from the change events the
 * listener receives (the Python original's strategies). Independently of any strategy, the engine
 * clears everything when its listener is lost (rule 2).
 */
export interface Strategy {
  /** The engine whose events drive this strategy (the original's `listener`). */
  readonly listener: CacheWatch;
  /** Start deciding for one cached function; `clear` drops its entries. Returns a function that stops. */
  attach(clear: () => void): () => void;
}

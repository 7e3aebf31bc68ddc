import { CacheWatch } from "./engine/cache-watch.js";

/**
 * The Python original's listener (`listeners.PGEventQueue`), for code that mirrors it: a
 * CacheWatch with `connect()`/`close()`. Strategies take it as their `listener`.
 */
export class PGEventQueue extends CacheWatch {
  /** Start listening; resolves once LISTEN is established. */
  connect(): Promise<void> {
    return this.start();
  }

  /** Stop listening and close the connection. */
  close(): Promise<void> {
    return this.stop();
  }
}

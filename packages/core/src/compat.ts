// `@pgcachewatch/core/compat`: the Python original's API (a listener, strategies, a method
// decorator), kept for users who port code from it.
export { cachedMethod } from "./cached/cached.js";
export { PGEventQueue } from "./listener.js";
export { Greedy, type GreedyOptions } from "./strategies/greedy.js";
export type { Strategy } from "./strategies/strategy.js";
export { Timed, type TimedOptions } from "./strategies/timed.js";
export { Windowed, type WindowedOptions } from "./strategies/windowed.js";

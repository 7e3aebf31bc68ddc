import type { CounterName } from "./stats.js";

export type Counters = Record<CounterName, number>;

export function newCounters(): Counters {
  return {
    hits: 0,
    misses: 0,
    loads: 0,
    fillsRejected: 0,
    fillsTooLarge: 0,
    fillsUncacheable: 0,
    invalidations: 0,
    entriesInvalidated: 0,
    evictions: 0,
    expirations: 0,
    bypassed: 0,
    eventsReceived: 0,
    malformedEvents: 0,
    forgedEvents: 0,
    reconnects: 0,
    losses: 0,
    loadErrors: 0,
    loadTimeouts: 0,
    entries: 0,
    bytes: 0,
  };
}

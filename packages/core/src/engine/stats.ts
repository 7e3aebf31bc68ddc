/** A snapshot of what the engine has done since it was created. */
export interface CacheWatchStats {
  /** Reads served from the cache. */
  hits: number;
  /** Cacheable reads that were not in the cache (they joined or started a load). */
  misses: number;
  /** Loads started (misses minus the callers that joined a load in flight). */
  loads: number;
  /** Loads whose result was returned but not stored, because what they read changed meanwhile (rule 1). */
  fillsRejected: number;
  /** Results not stored because they were larger than maxEntryBytes (or not cloneable). */
  fillsTooLarge: number;
  /** Results returned but not stored because what they read cannot be known or shared (a write, a transaction, an opaque or session-dependent statement). */
  fillsUncacheable: number;
  /** Invalidation operations (a change event, a mutation, a manual call, a listener loss). */
  invalidations: number;
  /** Entries dropped by invalidations. */
  entriesInvalidated: number;
  /** Entries dropped to stay under maxEntries / maxBytes. */
  evictions: number;
  /** Entries dropped because their ttl passed. */
  expirations: number;
  /** Reads that went straight to the database: in a transaction, unknown tables, or listener not ready. */
  bypassed: number;
  /** Change events received from the source. */
  eventsReceived: number;
  /** Messages on the channel that were not valid change events (counted, logged, skipped). */
  malformedEvents: number;
  /** Notifications dropped because their signature was missing, wrong or replayed (with `eventSecret`); also in malformedEvents. */
  forgedEvents: number;
  /** Times the source came back after being lost. */
  reconnects: number;
  /** Times the source was lost. */
  losses: number;
  /** Loads that failed (their error went to every waiter; nothing cached). */
  loadErrors: number;
  /** Loads that hit loadTimeout. */
  loadTimeouts: number;
  entries: number;
  bytes: number;
  /** Whether the cache is serving right now (listener up). */
  serving: boolean;
  /** Latency of the last change event, from the server's timestamp to its arrival (ms), if known. */
  lastEventLatencyMs: number | undefined;
  /** 99th percentile of the last 1024 event latencies (ms), if any. */
  p99EventLatencyMs: number | undefined;
  /** Fraction (0..1) of the cluster-wide NOTIFY queue in use, as of the listener's last heartbeat; undefined for other sources. */
  notifyQueueUsage: number | undefined;
}

export type CounterName = {
  [K in keyof CacheWatchStats]: CacheWatchStats[K] extends number ? K : never;
}[keyof CacheWatchStats];

const WINDOW = 1024;

/** A ring of recent latencies, for a cheap p99. */
export class LatencyWindow {
  readonly #samples = new Float64Array(WINDOW);
  #count = 0;
  #last: number | undefined;

  record(ms: number): void {
    this.#samples[this.#count % WINDOW] = ms;
    this.#count++;
    this.#last = ms;
  }

  get last(): number | undefined {
    return this.#last;
  }

  percentile(p: number): number | undefined {
    const n = Math.min(this.#count, WINDOW);
    if (n === 0) return undefined;
    const sorted = Array.from(this.#samples.subarray(0, n)).sort((a, b) => a - b);
    return sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)];
  }
}

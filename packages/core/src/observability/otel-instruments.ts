/**
 * Every OpenTelemetry instrument the engine reports, in one table (the README lists the same).
 * Names follow the semantic conventions where one applies (`db.*` attributes, durations in
 * seconds, `By` for bytes); the cache's own figures live under `pgcachewatch.*`. Attributes stay
 * low-cardinality: adapter, reason, table, operation, source kind; never SQL text or parameters.
 */

export type InstrumentKind = "counter" | "histogram" | "gauge";

export interface InstrumentSpec {
  readonly name: string;
  readonly kind: InstrumentKind;
  readonly unit: string;
  readonly description: string;
  readonly attributes: readonly string[];
}

/** Attribute names. */
export const ATTR = {
  adapter: "pgcachewatch.adapter",
  reason: "pgcachewatch.reason",
  joined: "pgcachewatch.joined",
  outcome: "pgcachewatch.outcome",
  state: "pgcachewatch.state",
  sourceKind: "pgcachewatch.source.kind",
  tables: "pgcachewatch.tables",
  table: "db.collection.name",
  operation: "db.operation.name",
  system: "db.system.name",
} as const;

export const INSTRUMENTS = {
  hits: {
    name: "pgcachewatch.cache.hits",
    kind: "counter",
    unit: "{read}",
    description: "Reads served from the cache",
    attributes: [ATTR.adapter],
  },
  misses: {
    name: "pgcachewatch.cache.misses",
    kind: "counter",
    unit: "{read}",
    description: "Cacheable reads not in the cache (joined: waited for a load already in flight)",
    attributes: [ATTR.adapter, ATTR.joined],
  },
  loads: {
    name: "pgcachewatch.cache.loads",
    kind: "counter",
    unit: "{load}",
    description: "Loads started for misses",
    attributes: [ATTR.adapter],
  },
  fillsRefused: {
    name: "pgcachewatch.cache.fills.refused",
    kind: "counter",
    unit: "{load}",
    description:
      "Loads whose result was returned but not stored (rejected, too-large, uncacheable, not-stored)",
    attributes: [ATTR.adapter, ATTR.reason],
  },
  loadErrors: {
    name: "pgcachewatch.cache.load.errors",
    kind: "counter",
    unit: "{load}",
    description: "Loads that failed (error) or hit loadTimeout (timeout)",
    attributes: [ATTR.adapter, ATTR.reason],
  },
  invalidations: {
    name: "pgcachewatch.cache.invalidations",
    kind: "counter",
    unit: "{invalidation}",
    description: "Invalidations per table (a flush of everything has no table attribute)",
    attributes: [ATTR.reason, ATTR.table],
  },
  entriesInvalidated: {
    name: "pgcachewatch.cache.entries.invalidated",
    kind: "counter",
    unit: "{entry}",
    description: "Entries dropped by invalidations",
    attributes: [ATTR.reason],
  },
  evictions: {
    name: "pgcachewatch.cache.evictions",
    kind: "counter",
    unit: "{entry}",
    description:
      "Entries dropped to stay within maxEntries/maxBytes (size) or because their ttl passed (ttl)",
    attributes: [ATTR.reason],
  },
  bypassed: {
    name: "pgcachewatch.cache.bypassed",
    kind: "counter",
    unit: "{read}",
    description: "Reads sent straight to PostgreSQL (no-key, transaction, not-serving)",
    attributes: [ATTR.reason],
  },
  events: {
    name: "pgcachewatch.source.events",
    kind: "counter",
    unit: "{event}",
    description: "Change events received",
    attributes: [ATTR.table, ATTR.operation, ATTR.sourceKind],
  },
  malformedEvents: {
    name: "pgcachewatch.source.malformed_events",
    kind: "counter",
    unit: "{event}",
    description: "Messages on the channel that were not valid change events",
    attributes: [ATTR.sourceKind],
  },
  reconnects: {
    name: "pgcachewatch.source.reconnects",
    kind: "counter",
    unit: "{reconnect}",
    description: "Times the change source came back after being lost",
    attributes: [ATTR.sourceKind],
  },
  losses: {
    name: "pgcachewatch.source.losses",
    kind: "counter",
    unit: "{loss}",
    description: "Times the change source was lost (the cache flushes and bypasses until it is back)",
    attributes: [ATTR.sourceKind],
  },
  eventLatency: {
    name: "pgcachewatch.source.event.latency",
    kind: "histogram",
    unit: "s",
    description:
      "From the change's server timestamp to its arrival: the commit time (WAL), the writing transaction's start (NOTIFY: a trigger cannot see its commit time)",
    attributes: [ATTR.table, ATTR.sourceKind],
  },
  loadDuration: {
    name: "pgcachewatch.cache.load.duration",
    kind: "histogram",
    unit: "s",
    description: "Time a load (a miss) ran its loader against the database",
    attributes: [ATTR.adapter, ATTR.outcome],
  },
  entries: {
    name: "pgcachewatch.cache.entries",
    kind: "gauge",
    unit: "{entry}",
    description: "Entries in the cache",
    attributes: [],
  },
  bytes: {
    name: "pgcachewatch.cache.size",
    kind: "gauge",
    unit: "By",
    description: "Approximate heap bytes the cache holds (entries and index)",
    attributes: [],
  },
  sourceState: {
    name: "pgcachewatch.source.state",
    kind: "gauge",
    unit: "1",
    description:
      "1 for the engine's current state, 0 for the others (idle, starting, serving, lost, stopped)",
    attributes: [ATTR.state, ATTR.sourceKind],
  },
  notifyQueueUsage: {
    name: "pgcachewatch.notify.queue.usage",
    kind: "gauge",
    unit: "1",
    description:
      "pg_notification_queue_usage(): fraction of the cluster's NOTIFY queue in use, as the listener read it with its last heartbeat (NOTIFY source)",
    attributes: [],
  },
} as const satisfies Record<string, InstrumentSpec>;

/** The span of a load (a miss). */
export const LOAD_SPAN = {
  name: "pgcachewatch.load",
  attributes: [ATTR.system, ATTR.adapter, ATTR.outcome, ATTR.tables, ATTR.table],
} as const;

/** Bucket boundaries (seconds) for both histograms: sub-millisecond to seconds. */
export const SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

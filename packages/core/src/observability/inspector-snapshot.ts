import type { InvalidateReason } from "../engine/load-request.js";
import type { BypassReason } from "../engine/observer.js";
import type { CacheWatchStats } from "../engine/stats.js";
import type { QueryShapeStats } from "./query-statistics.js";
import type { SourceTransition } from "./source-timeline.js";
import { totalInvalidations } from "./table-activity.js";
import type { StatsSample, WatchRecorder } from "./watch-recorder.js";

export interface TableSnapshot {
  /** `schema.table`. */
  table: string;
  /** Entries cached under the table now, and their bytes. */
  entries: number;
  bytes: number;
  /** Invalidations that named the table since the recorder started, all reasons, and by reason. */
  invalidations: number;
  byReason: Partial<Record<InvalidateReason, number>>;
  entriesDropped: number;
  /** Change events received for it. */
  events: number;
}

/** What the inspector page polls: plain JSON (no Infinity, no undefined). */
export interface InspectorSnapshot {
  version: 1;
  title: string;
  /** ms since epoch. */
  now: number;
  state: string;
  stats: Omit<CacheWatchStats, "lastEventLatencyMs" | "p99EventLatencyMs" | "notifyQueueUsage"> & {
    lastEventLatencyMs: number | null;
    p99EventLatencyMs: number | null;
    notifyQueueUsage: number | null;
  };
  sampleInterval: number;
  /** Cumulative counters, oldest first. */
  series: StatsSample[];
  eventLatency: {
    /** `le`: upper bound in ms, null for the last (open) bucket. */
    buckets: { le: number | null; count: number }[];
    count: number;
    meanMs: number | null;
    maxMs: number | null;
  };
  tables: TableSnapshot[];
  /** Flushes of everything, by reason. */
  flushes: Partial<Record<InvalidateReason, number>>;
  source: {
    kind: string | null;
    reconnects: number;
    losses: number;
    transitions: SourceTransition[];
  };
  bypasses: Record<BypassReason, number>;
  /** The most read query shapes. */
  queries: QueryShapeStats[];
  shapesTracked: number;
}

/** The inspector's data, from the engine and its recorder. */
export function inspectorSnapshot(
  recorder: WatchRecorder,
  title: string,
  topQueries = 20,
): InspectorSnapshot {
  const { watch } = recorder;
  const stats = watch.stats();
  const usage = new Map(watch.tableUsage().map((u) => [u.table, u]));
  const tables = new Map<string, TableSnapshot>();
  for (const activity of recorder.tables.list()) {
    const now = usage.get(activity.table);
    tables.set(activity.table, {
      table: activity.table,
      entries: now?.entries ?? 0,
      bytes: now?.bytes ?? 0,
      invalidations: totalInvalidations(activity),
      byReason: activity.invalidations,
      entriesDropped: activity.entriesDropped,
      events: activity.events,
    });
  }
  for (const u of usage.values()) {
    if (tables.has(u.table)) continue;
    tables.set(u.table, {
      table: u.table,
      entries: u.entries,
      bytes: u.bytes,
      invalidations: 0,
      byReason: {},
      entriesDropped: 0,
      events: 0,
    });
  }
  const histogram = recorder.eventLatency;
  return {
    version: 1,
    title,
    now: Date.now(),
    state: watch.state,
    stats: {
      ...stats,
      lastEventLatencyMs: stats.lastEventLatencyMs ?? null,
      p99EventLatencyMs: stats.p99EventLatencyMs ?? null,
      notifyQueueUsage: stats.notifyQueueUsage ?? null,
    },
    sampleInterval: recorder.sampleInterval,
    series: recorder.series.toArray(),
    eventLatency: {
      buckets: histogram.buckets().map((b) => ({ le: Number.isFinite(b.le) ? b.le : null, count: b.count })),
      count: histogram.count,
      meanMs: histogram.mean ?? null,
      maxMs: histogram.max ?? null,
    },
    tables: [...tables.values()].sort((a, b) => b.invalidations - a.invalidations || b.entries - a.entries),
    flushes: { ...recorder.tables.flushes },
    source: {
      kind: watch.source?.kind ?? null,
      reconnects: recorder.source.reconnects,
      losses: recorder.source.losses,
      transitions: recorder.source.transitions(),
    },
    bypasses: { ...recorder.bypasses },
    queries: recorder.queries.top(topQueries),
    shapesTracked: recorder.queries.size,
  };
}

import type { CacheWatch } from "../engine/cache-watch.js";
import type { InvalidateInfo, LoadRequest } from "../engine/load-request.js";
import type { BypassReason, CacheObserver, LoadObservation } from "../engine/observer.js";
import type { ChangeEvent } from "../events/change-event.js";
import type { RemovalReason } from "../store/cache-store.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { DEFAULT_MAX_SHAPES, QueryStatistics } from "./query-statistics.js";
import { SourceTimeline } from "./source-timeline.js";
import { TableActivityLog } from "./table-activity.js";
import { TimeSeriesRing } from "./time-series-ring.js";

/** One sample of the engine's counters (cumulative; a chart takes the differences). */
export interface StatsSample {
  /** ms since epoch. */
  at: number;
  hits: number;
  misses: number;
  loads: number;
  bypassed: number;
  invalidations: number;
  entriesInvalidated: number;
  eventsReceived: number;
  entries: number;
  bytes: number;
  serving: boolean;
}

export interface WatchRecorderOptions {
  /** Query shapes tracked (LRU). Default 500. */
  maxShapes?: number;
  /** How often the counters are sampled for the charts, ms. Default 1000. */
  sampleInterval?: number;
  /** Samples kept. Default 600 (10 minutes at one a second). */
  samples?: number;
}

/**
 * Everything the inspector shows that `watch.stats()` does not: per-query statistics, invalidations
 * per table, the event latency distribution, the source's ups and downs, and a history of the
 * counters. One per engine (see `recorderOf`), attached as an observer.
 */
export class WatchRecorder implements CacheObserver {
  readonly watch: CacheWatch;
  readonly queries: QueryStatistics;
  readonly tables = new TableActivityLog();
  readonly eventLatency = new LatencyHistogram();
  readonly source = new SourceTimeline();
  readonly bypasses: Record<BypassReason, number> = {
    "no-key": 0,
    transaction: 0,
    "not-serving": 0,
    "not-shared": 0,
  };
  readonly series: TimeSeriesRing<StatsSample>;
  readonly sampleInterval: number;
  readonly #detach: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(watch: CacheWatch, options: WatchRecorderOptions = {}) {
    this.watch = watch;
    this.queries = new QueryStatistics(options.maxShapes ?? DEFAULT_MAX_SHAPES);
    this.series = new TimeSeriesRing(options.samples ?? 600);
    this.sampleInterval = Math.max(50, options.sampleInterval ?? 1000);
    if (watch.state === "serving") this.source.ready(false);
    this.#detach = watch.addObserver(this);
    this.sample();
    this.#timer = setInterval(() => {
      if (this.watch.state === "stopped") this.#stopSampling();
      this.sample();
    }, this.sampleInterval);
    this.#timer.unref();
  }

  /** Take a sample now (the timer does so every `sampleInterval`). */
  sample(): StatsSample {
    const s = this.watch.stats();
    const sample: StatsSample = {
      at: Date.now(),
      hits: s.hits,
      misses: s.misses,
      loads: s.loads,
      bypassed: s.bypassed,
      invalidations: s.invalidations,
      entriesInvalidated: s.entriesInvalidated,
      eventsReceived: s.eventsReceived,
      entries: s.entries,
      bytes: s.bytes,
      serving: s.serving,
    };
    this.series.push(sample);
    return sample;
  }

  /** Stop sampling and observing. */
  close(): void {
    this.#stopSampling();
    this.#detach();
    if (recorders.get(this.watch) === this) recorders.delete(this.watch);
  }

  hit(request: LoadRequest, key: string): void {
    this.queries.hit(request, key);
  }

  miss(request: LoadRequest, key: string, joined: boolean): void {
    this.queries.miss(request, key, joined);
  }

  bypass(_request: LoadRequest, reason: BypassReason): void {
    this.bypasses[reason]++;
  }

  loadStart(request: LoadRequest, key: string): LoadObservation {
    const stats = this.queries.loadStart(request, key);
    return {
      run: (loader) => loader(),
      end: (result) => this.queries.loadEnd(stats, key, result.outcome, result.durationMs, result.tags),
    };
  }

  invalidated(info: InvalidateInfo): void {
    this.tables.invalidated(info);
  }

  removed(key: string, reason: RemovalReason): void {
    this.queries.removed(key, reason);
  }

  changeEvent(_event: ChangeEvent, latencyMs: number | undefined): void {
    if (latencyMs !== undefined) this.eventLatency.record(latencyMs);
  }

  malformedEvent(): void {}

  sourceReady(reconnect: boolean): void {
    this.source.ready(reconnect);
  }

  sourceLost(): void {
    this.source.lost();
  }

  #stopSampling(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

const recorders = new WeakMap<CacheWatch, WatchRecorder>();

/**
 * The recorder of `watch`, created and attached on first use (options apply then). Attach it
 * when the engine is created: it counts from that moment on.
 */
export function recorderOf(watch: CacheWatch, options?: WatchRecorderOptions): WatchRecorder {
  let recorder = recorders.get(watch);
  if (recorder === undefined) {
    recorder = new WatchRecorder(watch, options);
    recorders.set(watch, recorder);
  }
  return recorder;
}

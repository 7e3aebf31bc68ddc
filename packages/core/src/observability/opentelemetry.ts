import type * as OtelApi from "@opentelemetry/api";
import type { Attributes, Counter, Histogram, MeterProvider, TracerProvider } from "@opentelemetry/api";
import type { CacheWatch } from "../engine/cache-watch.js";
import type { InvalidateInfo, LoadRequest } from "../engine/load-request.js";
import type { BypassReason, CacheObserver, LoadObservation, LoadResult } from "../engine/observer.js";
import { tableOfTag } from "../engine/tags.js";
import { PgCacheWatchError } from "../errors.js";
import type { ChangeEvent } from "../events/change-event.js";
import type { RemovalReason } from "../store/cache-store.js";
import { ATTR, INSTRUMENTS, LOAD_SPAN, SECONDS_BUCKETS } from "./otel-instruments.js";
import { adapterOfKey } from "./query-shape.js";

/**
 * An OpenTelemetry MeterProvider, described structurally so that these declarations do not need
 * `@opentelemetry/api` installed (it is an optional peer dependency).
 */
export interface MeterProviderLike {
  getMeter(name: string, version?: string, options?: object): object;
}

/** An OpenTelemetry TracerProvider, described structurally (see MeterProviderLike). */
export interface TracerProviderLike {
  getTracer(name: string, version?: string, options?: object): object;
}

export interface OpenTelemetryOptions {
  /** Where metrics go (an OpenTelemetry MeterProvider). Default the global one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProviderLike;
  /** Where load spans go (an OpenTelemetry TracerProvider). Default the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProviderLike;
  /** Report spans for loads (misses). Default true. */
  traces?: boolean;
}

/** What `instrumentOpenTelemetry` attached; `shutdown()` detaches it. */
export interface OpenTelemetryInstrumentation {
  shutdown(): Promise<void>;
}

/** `@opentelemetry/api` is an optional peer dependency: the error when it is not installed. */
export class OpenTelemetryMissingError extends PgCacheWatchError {
  constructor(cause: unknown) {
    super(
      "OPENTELEMETRY_MISSING",
      "instrumentOpenTelemetry() needs the @opentelemetry/api package (an optional peer dependency): install it next to your OpenTelemetry SDK",
      { cause },
    );
  }
}

const SCOPE = "@pgcachewatch/core";
const ENGINE_STATES = ["idle", "starting", "serving", "lost", "stopped"] as const;

/**
 * Report what `watch` does to OpenTelemetry: counters, histograms and gauges (see INSTRUMENTS and
 * the README) and a span per load. `@opentelemetry/api` is loaded here, on first call, and only
 * then; no SDK is bundled: pass your providers, or register them globally first.
 */
export async function instrumentOpenTelemetry(
  watch: CacheWatch,
  options: OpenTelemetryOptions = {},
): Promise<OpenTelemetryInstrumentation> {
  let api: typeof OtelApi;
  try {
    api = await import("@opentelemetry/api");
  } catch (error) {
    throw new OpenTelemetryMissingError(error);
  }
  const meterProvider =
    (options.meterProvider as MeterProvider | undefined) ?? api.metrics.getMeterProvider();
  const meter = meterProvider.getMeter(SCOPE);
  const tracerProvider =
    (options.tracerProvider as TracerProvider | undefined) ?? api.trace.getTracerProvider();
  const tracer = options.traces === false ? undefined : tracerProvider.getTracer(SCOPE);
  const observer = new OpenTelemetryObserver(api, meter, tracer, watch);
  const gauges = observeGauges(api, meter, watch);
  const detach = watch.addObserver(observer);
  let closing: Promise<void> | undefined;
  return {
    shutdown() {
      closing ??= (async () => {
        detach();
        await gauges.close();
      })();
      return closing;
    },
  };
}

function counter(meter: OtelApi.Meter, spec: (typeof INSTRUMENTS)[keyof typeof INSTRUMENTS]): Counter {
  return meter.createCounter(spec.name, { unit: spec.unit, description: spec.description });
}

function histogram(meter: OtelApi.Meter, spec: (typeof INSTRUMENTS)[keyof typeof INSTRUMENTS]): Histogram {
  return meter.createHistogram(spec.name, {
    unit: spec.unit,
    description: spec.description,
    advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] },
  });
}

/** The observer that turns engine hooks into measurements. Attribute objects are made once per value. */
class OpenTelemetryObserver implements CacheObserver {
  readonly #api: typeof OtelApi;
  readonly #tracer: OtelApi.Tracer | undefined;
  readonly #watch: CacheWatch;
  readonly #hits: Counter;
  readonly #misses: Counter;
  readonly #loads: Counter;
  readonly #fillsRefused: Counter;
  readonly #loadErrors: Counter;
  readonly #invalidations: Counter;
  readonly #entriesInvalidated: Counter;
  readonly #evictions: Counter;
  readonly #bypassed: Counter;
  readonly #events: Counter;
  readonly #malformed: Counter;
  readonly #reconnects: Counter;
  readonly #losses: Counter;
  readonly #eventLatency: Histogram;
  readonly #loadDuration: Histogram;
  readonly #attributes = new Map<string, Attributes>();
  readonly #byAdapter = new Map<string, Attributes>();

  constructor(
    api: typeof OtelApi,
    meter: OtelApi.Meter,
    tracer: OtelApi.Tracer | undefined,
    watch: CacheWatch,
  ) {
    this.#api = api;
    this.#tracer = tracer;
    this.#watch = watch;
    this.#hits = counter(meter, INSTRUMENTS.hits);
    this.#misses = counter(meter, INSTRUMENTS.misses);
    this.#loads = counter(meter, INSTRUMENTS.loads);
    this.#fillsRefused = counter(meter, INSTRUMENTS.fillsRefused);
    this.#loadErrors = counter(meter, INSTRUMENTS.loadErrors);
    this.#invalidations = counter(meter, INSTRUMENTS.invalidations);
    this.#entriesInvalidated = counter(meter, INSTRUMENTS.entriesInvalidated);
    this.#evictions = counter(meter, INSTRUMENTS.evictions);
    this.#bypassed = counter(meter, INSTRUMENTS.bypassed);
    this.#events = counter(meter, INSTRUMENTS.events);
    this.#malformed = counter(meter, INSTRUMENTS.malformedEvents);
    this.#reconnects = counter(meter, INSTRUMENTS.reconnects);
    this.#losses = counter(meter, INSTRUMENTS.losses);
    this.#eventLatency = histogram(meter, INSTRUMENTS.eventLatency);
    this.#loadDuration = histogram(meter, INSTRUMENTS.loadDuration);
  }

  hit(_request: LoadRequest, key: string): void {
    // The hit path: one lookup by the adapter's name, no string built.
    const adapter = adapterOfKey(key);
    let attributes = this.#byAdapter.get(adapter);
    if (attributes === undefined) {
      attributes = this.#attrs(ATTR.adapter, adapter);
      this.#byAdapter.set(adapter, attributes);
    }
    this.#hits.add(1, attributes);
  }

  miss(_request: LoadRequest, key: string, joined: boolean): void {
    this.#misses.add(1, this.#attrs2(ATTR.adapter, adapterOfKey(key), ATTR.joined, joined));
  }

  bypass(_request: LoadRequest, reason: BypassReason): void {
    this.#bypassed.add(1, this.#attrs(ATTR.reason, reason));
  }

  loadStart(_request: LoadRequest, key: string): LoadObservation {
    const adapter = adapterOfKey(key);
    this.#loads.add(1, this.#attrs(ATTR.adapter, adapter));
    const api = this.#api;
    const span = this.#tracer?.startSpan(LOAD_SPAN.name, {
      kind: api.SpanKind.INTERNAL,
      attributes: { [ATTR.system]: "postgresql", [ATTR.adapter]: adapter },
    });
    const startedAt = performance.now();
    return {
      run<T>(loader: () => T): T {
        if (span === undefined) return loader();
        return api.context.with(api.trace.setSpan(api.context.active(), span), loader);
      },
      end: (result: LoadResult) => {
        this.#loadDuration.record(
          result.durationMs / 1000,
          this.#attrs2(ATTR.adapter, adapter, ATTR.outcome, result.outcome),
        );
        if (result.outcome === "error" || result.outcome === "timeout") {
          this.#loadErrors.add(1, this.#attrs2(ATTR.adapter, adapter, ATTR.reason, result.outcome));
        } else if (result.outcome !== "stored") {
          this.#fillsRefused.add(1, this.#attrs2(ATTR.adapter, adapter, ATTR.reason, result.outcome));
        }
        if (span === undefined) return;
        const tables: string[] = [];
        for (const tag of result.tags) {
          const table = tableOfTag(tag);
          if (table !== undefined) tables.push(table);
        }
        span.setAttribute(ATTR.outcome, result.outcome);
        span.setAttribute(ATTR.tables, tables);
        if (tables.length === 1) span.setAttribute(ATTR.table, tables[0] as string);
        if (result.error !== undefined) {
          const error = result.error instanceof Error ? result.error : new Error(String(result.error));
          span.recordException(error);
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
        }
        // The span covers the loader's run; the outcome may be decided a moment later (analysis).
        const endedAt = performance.timeOrigin + startedAt + result.durationMs;
        span.end(endedAt);
      },
    };
  }

  invalidated(info: InvalidateInfo): void {
    this.#entriesInvalidated.add(info.entries, this.#attrs(ATTR.reason, info.reason));
    if (info.all || info.tables.length === 0) {
      this.#invalidations.add(1, this.#attrs(ATTR.reason, info.reason));
      return;
    }
    for (const table of info.tables) {
      this.#invalidations.add(1, this.#attrs2(ATTR.reason, info.reason, ATTR.table, table));
    }
  }

  removed(_key: string, reason: RemovalReason): void {
    if (reason === "evicted") this.#evictions.add(1, this.#attrs(ATTR.reason, "size"));
    else if (reason === "expired") this.#evictions.add(1, this.#attrs(ATTR.reason, "ttl"));
  }

  changeEvent(event: ChangeEvent, latencyMs: number | undefined): void {
    const table = `${event.schema}.${event.table}`;
    const kind = this.#sourceKind();
    this.#events.add(
      1,
      this.#attrs3(ATTR.table, table, ATTR.operation, event.operation.toUpperCase(), ATTR.sourceKind, kind),
    );
    if (latencyMs !== undefined) {
      this.#eventLatency.record(latencyMs / 1000, this.#attrs2(ATTR.table, table, ATTR.sourceKind, kind));
    }
  }

  malformedEvent(): void {
    this.#malformed.add(1, this.#attrs(ATTR.sourceKind, this.#sourceKind()));
  }

  sourceReady(reconnect: boolean): void {
    if (reconnect) this.#reconnects.add(1, this.#attrs(ATTR.sourceKind, this.#sourceKind()));
  }

  sourceLost(): void {
    this.#losses.add(1, this.#attrs(ATTR.sourceKind, this.#sourceKind()));
  }

  #sourceKind(): string {
    return this.#watch.source?.kind ?? "none";
  }

  #attrs(k: string, v: string | boolean): Attributes {
    const id = `${k}=${v}`;
    let attributes = this.#attributes.get(id);
    if (attributes === undefined) {
      attributes = Object.freeze({ [k]: v });
      this.#attributes.set(id, attributes);
    }
    return attributes;
  }

  #attrs2(k1: string, v1: string | boolean, k2: string, v2: string | boolean): Attributes {
    const id = `${k1}=${v1}\u0000${k2}=${v2}`;
    let attributes = this.#attributes.get(id);
    if (attributes === undefined) {
      attributes = Object.freeze({ [k1]: v1, [k2]: v2 });
      this.#attributes.set(id, attributes);
    }
    return attributes;
  }

  #attrs3(k1: string, v1: string, k2: string, v2: string, k3: string, v3: string): Attributes {
    const id = `${k1}=${v1}\u0000${k2}=${v2}\u0000${k3}=${v3}`;
    let attributes = this.#attributes.get(id);
    if (attributes === undefined) {
      attributes = Object.freeze({ [k1]: v1, [k2]: v2, [k3]: v3 });
      this.#attributes.set(id, attributes);
    }
    return attributes;
  }
}

/** The gauges, read from the engine at each collection (nothing on the engine's paths). */
function observeGauges(
  api: typeof OtelApi,
  meter: OtelApi.Meter,
  watch: CacheWatch,
): { close(): Promise<void> } {
  const int = { valueType: api.ValueType.INT };
  const entries = meter.createObservableGauge(INSTRUMENTS.entries.name, {
    unit: INSTRUMENTS.entries.unit,
    description: INSTRUMENTS.entries.description,
    ...int,
  });
  const bytes = meter.createObservableGauge(INSTRUMENTS.bytes.name, {
    unit: INSTRUMENTS.bytes.unit,
    description: INSTRUMENTS.bytes.description,
    ...int,
  });
  const state = meter.createObservableGauge(INSTRUMENTS.sourceState.name, {
    unit: INSTRUMENTS.sourceState.unit,
    description: INSTRUMENTS.sourceState.description,
    ...int,
  });
  const onEntries = (result: OtelApi.ObservableResult) => result.observe(watch.stats().entries);
  const onBytes = (result: OtelApi.ObservableResult) => result.observe(watch.stats().bytes);
  const onState = (result: OtelApi.ObservableResult) => {
    const kind = watch.source?.kind ?? "none";
    for (const s of ENGINE_STATES) {
      result.observe(s === watch.state ? 1 : 0, { [ATTR.state]: s, [ATTR.sourceKind]: kind });
    }
  };
  const queue = meter.createObservableGauge(INSTRUMENTS.notifyQueueUsage.name, {
    unit: INSTRUMENTS.notifyQueueUsage.unit,
    description: INSTRUMENTS.notifyQueueUsage.description,
  });
  // Read by the listener with each heartbeat: no query of its own.
  const onQueue = (result: OtelApi.ObservableResult) => {
    const usage = watch.stats().notifyQueueUsage;
    if (usage !== undefined) result.observe(usage);
  };
  entries.addCallback(onEntries);
  bytes.addCallback(onBytes);
  state.addCallback(onState);
  queue.addCallback(onQueue);
  return {
    async close() {
      entries.removeCallback(onEntries);
      bytes.removeCallback(onBytes);
      state.removeCallback(onState);
      queue.removeCallback(onQueue);
    },
  };
}

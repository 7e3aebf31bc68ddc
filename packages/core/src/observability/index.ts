export {
  type BypassReason,
  type CacheObserver,
  CacheObserverBase,
  combineObservers,
  type LoadObservation,
  type LoadOutcome,
  type LoadResult,
  NO_OP_LOAD_OBSERVATION,
  NO_OP_OBSERVER,
} from "../engine/observer.js";
export { createInspector, type InspectorHandler, type InspectorOptions } from "./inspector.js";
export { type InspectorSnapshot, inspectorSnapshot, type TableSnapshot } from "./inspector-snapshot.js";
export { LATENCY_BUCKETS_MS, type LatencyBucket, LatencyHistogram } from "./latency-histogram.js";
export {
  instrumentOpenTelemetry,
  type MeterProviderLike,
  type OpenTelemetryInstrumentation,
  OpenTelemetryMissingError,
  type OpenTelemetryOptions,
  type TracerProviderLike,
} from "./opentelemetry.js";
export {
  ATTR,
  INSTRUMENTS,
  type InstrumentKind,
  type InstrumentSpec,
  LOAD_SPAN,
} from "./otel-instruments.js";
export { adapterOfKey, MAX_SHAPE_LENGTH, queryShape, shapeOfKey } from "./query-shape.js";
export { DEFAULT_MAX_SHAPES, type QueryShapeStats, QueryStatistics } from "./query-statistics.js";
export { SourceTimeline, type SourceTransition } from "./source-timeline.js";
export { OTHER_TABLES, type TableActivity, TableActivityLog } from "./table-activity.js";
export { TimeSeriesRing } from "./time-series-ring.js";
export { recorderOf, type StatsSample, WatchRecorder, type WatchRecorderOptions } from "./watch-recorder.js";

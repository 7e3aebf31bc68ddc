export {
  type CachedFunction,
  type CachedOptions,
  type CachedWithStrategy,
  type CachedWithTables,
  cached,
} from "./cached/cached.js";
export {
  CacheWatch,
  type CacheWatchEvents,
  createCacheWatch,
  type InvalidateInfo,
  type InvalidateReason,
  type LoadControl,
  type LoadRequest,
  type Mutation,
  type Statement,
  type UncachedInfo,
} from "./engine/cache-watch.js";
export type {
  BypassReason,
  CacheObserver,
  LoadObservation,
  LoadOutcome,
  LoadResult,
} from "./engine/observer.js";
export type { CacheWatchOptions } from "./engine/options.js";
export type { SecondTier, SecondTierEntry, SecondTierToken } from "./engine/second-tier.js";
export type { AnalysisContext, StatementAnalysis, StatementAnalyzer } from "./engine/statement-analysis.js";
export type { CacheWatchStats } from "./engine/stats.js";
export {
  EngineStoppedError,
  EventSecretMismatchError,
  InvalidCacheOptionError,
  InvalidConnectionStringError,
  InvalidOptionError,
  InvalidSqlTextError,
  InvalidTableNameError,
  ListenerNeedsSessionError,
  LoadAbortedError,
  LoadTimeoutError,
  PgCacheWatchError,
  UnexpectedServerResponseError,
  UnserializableArgumentError,
} from "./errors.js";
export type { ChangeEvent, ChangeOperation } from "./events/change-event.js";
export type { TableInput, TableRef } from "./events/table-name.js";
export { type Logger, silentLogger } from "./logger.js";
export type { PgQueryable, PgQueryOptions, PgQueryResult } from "./pg/cached-pg-query.js";
export type { ChangeSource, ChangeSourceHandlers } from "./sources/change-source.js";
export { NotifySource, type NotifySourceOptions } from "./sources/notify-source.js";
export type { CacheStore, StoreEntry, TagUsage } from "./store/cache-store.js";
export type { DeepReadonly, IsolationMode } from "./store/clone.js";
// Subpaths: @pgcachewatch/core/triggers (install, status, SQL), /wal (logical replication),
// /adapter (keys, analyzer, store), /compat (the Python original's API), /observability.

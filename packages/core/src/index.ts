export {
  type CachedFunction,
  type CachedOptions,
  type CachedWithStrategy,
  type CachedWithTables,
  cached,
  cachedMethod,
} from "./cached/cached.js";
export { stableKey } from "./cached/stable-key.js";
export {
  type ConnectionStringForm,
  connectionStringForm,
  redactConnectionString,
  toClientConfig,
} from "./connection-string.js";
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
export type { CacheWatchOptions } from "./engine/options.js";
export type { AnalysisContext, StatementAnalysis, StatementAnalyzer } from "./engine/statement-analysis.js";
export type { CacheWatchStats } from "./engine/stats.js";
export {
  EngineStoppedError,
  EventSecretMismatchError,
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
export { CHANGE_OPERATIONS, type ChangeEvent, type ChangeOperation } from "./events/change-event.js";
export {
  formatNotifyPayload,
  NOTIFY_PAYLOAD_VERSION,
  type ParsedPayload,
  type PayloadProblem,
  parseNotifyPayload,
} from "./events/notify-payload.js";
export { sealPayload, verifyEnvelope } from "./events/signed-payload.js";
export {
  DEFAULT_SCHEMA,
  formatTable,
  type TableInput,
  type TableRef,
  toTableRef,
} from "./events/table-name.js";
export { queryKey } from "./keys/query-key.js";
export { PGEventQueue } from "./listener.js";
export { type Logger, silentLogger } from "./logger.js";
export type { PgQueryable, PgQueryOptions, PgQueryResult } from "./pg/cached-pg-query.js";
export type { ChangeSource, ChangeSourceHandlers } from "./sources/change-source.js";
export { NotifySource, type NotifySourceOptions } from "./sources/notify-source.js";
export { quoteIdentifier } from "./sources/quote-identifier.js";
export * from "./sources/wal/index.js";
export type { CacheStore, StoreEntry } from "./store/cache-store.js";
export { cloneValue } from "./store/clone.js";
export { MemoryStore, type MemoryStoreOptions } from "./store/memory-store.js";
export { Greedy, type GreedyOptions } from "./strategies/greedy.js";
export type { Strategy } from "./strategies/strategy.js";
export { Timed, type TimedOptions } from "./strategies/timed.js";
export { Windowed, type WindowedOptions } from "./strategies/windowed.js";
export {
  DEFAULT_CHANNEL,
  type EnsureTriggersResult,
  EventSecretUnavailableError,
  ensureTriggers,
  INSTALL_REVISION,
  type InstallTriggersOptions,
  type InstallTriggersResult,
  InvalidChannelError,
  installTriggers,
  listWatchableTables,
  NotATableError,
  readEventSecret,
  type SqlTextOptions,
  TRIGGER_NAME,
  TRIGGER_SCHEMA,
  type TriggerClient,
  TriggerConflictError,
  TriggerPermissionError,
  type TriggerSqlOptions,
  type TriggerStatus,
  type TriggerStatusOptions,
  type TriggerUpgrade,
  toChannel,
  triggerSql,
  triggerStatus,
  type UninstallTriggerSqlOptions,
  type UninstallTriggersOptions,
  type UninstallTriggersResult,
  UnknownColumnError,
  UnknownTableError,
  type UnwatchedPartition,
  uninstallTriggerSql,
  uninstallTriggers,
  type WatchedTable,
  type WatchedTableKind,
} from "./triggers/index.js";

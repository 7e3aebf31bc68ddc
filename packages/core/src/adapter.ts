// `@pgcachewatch/core/adapter`: what ORM adapters build on (keys, table names, the analyzer,
// isolation, the store and the NOTIFY payload format). Applications rarely need it.
export {
  createSqlAnalyzer,
  type SqlAnalyzer,
  type SqlAnalyzerOptions,
  type StatementDependencies,
} from "./analysis/index.js";
export { stableKey } from "./cached/stable-key.js";
export type { AnalysisContext, StatementAnalysis, StatementAnalyzer } from "./engine/statement-analysis.js";
export { CHANGE_OPERATIONS, type ChangeOperation } from "./events/change-event.js";
export {
  formatNotifyPayload,
  NOTIFY_PAYLOAD_VERSION,
  type ParsedPayload,
  type PayloadProblem,
  parseNotifyPayload,
} from "./events/notify-payload.js";
export { DEFAULT_SCHEMA, formatTable, type TableRef, tableTag, toTableRef } from "./events/table-name.js";
export { queryKey } from "./keys/query-key.js";
export {
  resolveUserSchema,
  SESSION_IDENTITY_SQL,
  type SessionIdentity,
  sessionIdentity,
} from "./keys/session-identity.js";
export { NotifySource, type NotifySourceOptions } from "./sources/notify-source.js";
export { quoteIdentifier } from "./sources/quote-identifier.js";
export { cloneValue } from "./store/clone.js";
export { MemoryStore, type MemoryStoreOptions } from "./store/memory-store.js";

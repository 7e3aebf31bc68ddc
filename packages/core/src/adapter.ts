// `@pgcachewatch/core/adapter`: what ORM adapters and tools build on (keys, table names, the
// analyzer, isolation, the store, the NOTIFY payload format, connection strings). Applications
// rarely need it.
export {
  createSqlAnalyzer,
  ddlEventTriggerSql,
  installDdlEventTrigger,
  mentionedTables,
  type SqlAnalyzer,
  type SqlAnalyzerOptions,
  type StatementDependencies,
  uninstallDdlEventTriggerSql,
} from "./analysis/index.js";
export { stableKey } from "./cached/stable-key.js";
export {
  type ConnectionStringForm,
  connectionStringForm,
  redactConnectionString,
  toClientConfig,
} from "./connection-string.js";
export { CHANGE_OPERATIONS } from "./events/change-event.js";
export {
  formatNotifyPayload,
  NOTIFY_PAYLOAD_VERSION,
  type ParsedPayload,
  type PayloadProblem,
  parseNotifyPayload,
} from "./events/notify-payload.js";
export { sealPayload, verifyEnvelope } from "./events/signed-payload.js";
export { DEFAULT_SCHEMA, formatTable, tableTag, toTableRef } from "./events/table-name.js";
export { DEFAULT_ENCODING, queryKey, type ValueEncoder } from "./keys/query-key.js";
export {
  resolveUserSchema,
  SESSION_IDENTITY_SQL,
  type SessionIdentity,
  sessionIdentity,
} from "./keys/session-identity.js";
export { quoteIdentifier } from "./sources/quote-identifier.js";
export { cloneAndMeasure, cloneValue, freezeAndMeasure } from "./store/clone.js";
export { MemoryStore, type MemoryStoreOptions } from "./store/memory-store.js";

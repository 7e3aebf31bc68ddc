export { toChannel } from "./channel.js";
export type { TriggerClient } from "./client.js";
export {
  DEFAULT_CHANNEL,
  DEFAULT_MAX_ROWS,
  INSTALL_REVISION,
  KEYED_TRIGGERS,
  TRIGGER_NAME,
  TRIGGER_SCHEMA,
} from "./definitions.js";
export { type EnsureTriggersResult, ensureTriggers } from "./ensure.js";
export {
  EventSecretUnavailableError,
  InvalidChannelError,
  NotATableError,
  TriggerConflictError,
  TriggerPermissionError,
  UnknownColumnError,
  UnknownTableError,
} from "./errors.js";
export { readEventSecret } from "./event-secret.js";
export { type InstallTriggersOptions, type InstallTriggersResult, installTriggers } from "./install.js";
export { listWatchableTables } from "./list-tables.js";
export {
  type TriggerStatus,
  type TriggerStatusOptions,
  type TriggerUpgrade,
  triggerStatus,
  type UnwatchedPartition,
  type WatchedTable,
  type WatchedTableKind,
} from "./status.js";
export {
  type SqlTextOptions,
  type TriggerSqlOptions,
  triggerSql,
  type UninstallTriggerSqlOptions,
  uninstallTriggerSql,
} from "./trigger-sql.js";
export {
  type UninstallTriggersOptions,
  type UninstallTriggersResult,
  uninstallTriggers,
} from "./uninstall.js";

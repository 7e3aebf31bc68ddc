export {
  type DdlEventTriggerNames,
  ddlEventTriggerNames,
  ddlEventTriggerSql,
  installDdlEventTrigger,
  uninstallDdlEventTriggerSql,
} from "./ddl-event-trigger.js";
export type {
  AnalyzeContext,
  StatementDependencies,
  StatementKind,
  TransactionControl,
} from "./dependencies.js";
export {
  AnalyzerConfigError,
  CatalogLoadError,
  DdlEventTriggerInstallError,
  ParserNotLoadedError,
  SqlParseError,
} from "./errors.js";
export { type MentionedTable, mentionedTables } from "./mentioned-tables.js";
export {
  createSqlAnalyzer,
  DEFAULT_MEMO_SIZE,
  type SqlAnalyzer,
  type SqlAnalyzerOptions,
} from "./sql-analyzer.js";

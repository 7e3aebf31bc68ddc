export type {
  AnalyzeContext,
  StatementDependencies,
  StatementKind,
  TransactionControl,
} from "./dependencies.js";
export { AnalyzerConfigError, CatalogLoadError, ParserNotLoadedError, SqlParseError } from "./errors.js";
export { type MentionedTable, mentionedTables } from "./mentioned-tables.js";
export {
  createSqlAnalyzer,
  DEFAULT_MEMO_SIZE,
  type SqlAnalyzer,
  type SqlAnalyzerOptions,
} from "./sql-analyzer.js";

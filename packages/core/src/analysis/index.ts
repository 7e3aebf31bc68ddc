/**
 * The SQL analyzer: what a statement reads, writes and does, decided once per SQL text by
 * PostgreSQL's own parser (libpg-query) and the catalog.
 *
 * - statement-facts: the catalog-free walk of one statement's parse tree (CTE scopes, write
 *   targets, calls, transaction control).
 * - catalog-snapshot: one consistent read of pg_class, pg_inherits, pg_rewrite/pg_depend, pg_proc,
 *   pg_operator and pg_namespace over the analyzer's own connection.
 * - resolve-dependencies: facts + snapshot + search_path -> base tables and reasons.
 * - sql-analyzer: the memo, the reloads, the public `SqlAnalyzer`.
 * - ddl-event-trigger: the optional event triggers that announce schema changes.
 */
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

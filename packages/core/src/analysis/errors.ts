import { PgCacheWatchError } from "../errors.js";

/** `createSqlAnalyzer()` was given neither a connection string nor a `connect` function. */
export class AnalyzerConfigError extends PgCacheWatchError {
  constructor(why: string) {
    super("ANALYZER_CONFIG", `invalid SQL analyzer options: ${why}`);
  }
}

/** The parse-only helper was given text PostgreSQL's grammar rejects. */
export class SqlParseError extends PgCacheWatchError {
  constructor(detail: string) {
    super("SQL_PARSE", `SQL parse error: ${detail}`);
  }
}

/** The parser was used before its WebAssembly module finished loading (a bug in the caller). */
export class ParserNotLoadedError extends PgCacheWatchError {
  constructor() {
    super("PARSER_NOT_LOADED", "parseSql() was called before loadSqlParser() finished");
  }
}

/** The catalog could not be read (connection lost, permission, unexpected answer). */
export class CatalogLoadError extends PgCacheWatchError {
  constructor(why: string, options?: { cause?: unknown }) {
    super("CATALOG_LOAD", `could not read the catalog: ${why}`, options);
  }
}

/** The DDL event triggers could not be installed (creating event triggers needs a superuser). */
export class DdlEventTriggerInstallError extends PgCacheWatchError {
  constructor(why: string, options?: { cause?: unknown }) {
    super("DDL_EVENT_TRIGGER_INSTALL", `could not install the DDL event triggers: ${why}`, options);
  }
}

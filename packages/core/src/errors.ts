/** Every error this library throws carries a stable `code`. */
export class PgCacheWatchError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A load took longer than `loadTimeout`; every waiter gets this, and the next call loads afresh. */
export class LoadTimeoutError extends PgCacheWatchError {
  constructor(key: string, timeoutMs: number) {
    super(
      "LOAD_TIMEOUT",
      `load for key ${JSON.stringify(key.slice(0, 80))} took longer than ${timeoutMs} ms`,
    );
  }
}

/** The caller's AbortSignal fired before its load finished. Other waiters are unaffected. */
export class LoadAbortedError extends PgCacheWatchError {
  constructor(reason?: unknown) {
    super("LOAD_ABORTED", "the load was aborted by the caller's signal", { cause: reason });
  }
}

/** A table name that cannot be valid (empty, too long, NUL byte), or a table input that is not a name at all (null, a number...). */
export class InvalidTableNameError extends PgCacheWatchError {
  /** `described`: `name` is already a description of a non-string input, printed as is. */
  constructor(name: string, why: string, options?: { described?: boolean }) {
    super(
      "INVALID_TABLE_NAME",
      `invalid table name ${options?.described ? name : JSON.stringify(name)}: ${why}`,
    );
  }
}

/** An argument `cached()` cannot turn into a stable key (functions, symbols, cycles, class instances without toJSON). */
export class UnserializableArgumentError extends PgCacheWatchError {
  constructor(path: string, why: string) {
    super("UNSERIALIZABLE_ARGUMENT", `cannot build a cache key: argument ${path} is ${why}`);
  }
}

/** The engine was used after stop(). */
export class EngineStoppedError extends PgCacheWatchError {
  constructor() {
    super("ENGINE_STOPPED", "this CacheWatch has been stopped");
  }
}

/**
 * The NOTIFY listener's connection does not keep a session: a notification sent to it did not come
 * back (PgBouncer in transaction or statement mode, or another pooler that moves connections
 * between clients). LISTEN needs the same server session for as long as it listens.
 */
export class ListenerNeedsSessionError extends PgCacheWatchError {
  constructor(detail: string) {
    super(
      "LISTENER_NEEDS_SESSION",
      `${detail}: the listener needs a session: point it at PostgreSQL directly or at a session-mode pooler (PgBouncer pool_mode = session)`,
    );
  }
}

/** A connection string that cannot be used as written (bad URL or port, unsupported key=value key). Never contains the password. */
export class InvalidConnectionStringError extends PgCacheWatchError {
  /** `redacted`: the connection string with its password already masked (see `redactConnectionString`). */
  constructor(redacted: string, why: string) {
    super("INVALID_CONNECTION_STRING", `invalid connection string ${JSON.stringify(redacted)}: ${why}`);
  }
}

/**
 * The engine's `eventSecret` cannot verify this install's notifications: it is not the secret the
 * triggers sign with (reinstalled since?), or the installed triggers do not sign at all (an older
 * revision). Every change would be dropped as forged, so the listener refuses to serve.
 */
export class EventSecretMismatchError extends PgCacheWatchError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      "EVENT_SECRET_MISMATCH",
      `${detail}: print the install's secret with \`pgcachewatch secret\`, reinstall the triggers (pgcachewatch install, or ensureTriggers), or leave eventSecret unset`,
      options,
    );
  }
}

/** An option outside its valid range (a negative interval, a window of 0 events, ...). */
export class InvalidOptionError extends PgCacheWatchError {
  constructor(option: string, why: string) {
    super("INVALID_OPTION", `invalid option ${option}: ${why}`);
  }
}

/** An identifier or literal that cannot be spliced into SQL safely (a NUL byte). */
export class InvalidSqlTextError extends PgCacheWatchError {
  constructor(what: string, why: string) {
    super("INVALID_SQL_TEXT", `${what} ${why}`);
  }
}

/** The server answered something the library cannot work with. */
export class UnexpectedServerResponseError extends PgCacheWatchError {
  constructor(what: string) {
    super("UNEXPECTED_SERVER_RESPONSE", what);
  }
}

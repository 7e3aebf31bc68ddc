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

/** A table name that cannot be valid (empty, too long, NUL byte). */
export class InvalidTableNameError extends PgCacheWatchError {
  constructor(name: string, why: string) {
    super("INVALID_TABLE_NAME", `invalid table name ${JSON.stringify(name)}: ${why}`);
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

import { PgCacheWatchError } from "../errors.js";
import { formatTable, type TableRef } from "../events/table-name.js";

/** One or more named tables do not exist. */
export class UnknownTableError extends PgCacheWatchError {
  readonly tables: readonly TableRef[];
  constructor(tables: readonly TableRef[], suggestions: ReadonlyMap<TableRef, TableRef> = new Map()) {
    const described = tables.map((ref) => {
      const suggestion = suggestions.get(ref);
      return suggestion
        ? `${formatTable(ref)} (did you mean ${formatTable(suggestion)}? names are case-sensitive)`
        : formatTable(ref);
    });
    super(
      "UNKNOWN_TABLE",
      `${tables.length === 1 ? "unknown table" : "unknown tables"}: ${described.join(", ")}`,
    );
    this.tables = tables;
  }
}

/** The name resolves to a view, sequence, foreign table or other relation that cannot carry these triggers. */
export class NotATableError extends PgCacheWatchError {
  readonly table: TableRef;
  readonly relationKind: string;
  constructor(table: TableRef, relationKind: string) {
    super(
      "NOT_A_TABLE",
      `${formatTable(table)} is a ${relationKind}, not a table: triggers go on ordinary and partitioned tables only`,
    );
    this.table = table;
    this.relationKind = relationKind;
  }
}

/** A NOTIFY channel name PostgreSQL would refuse (empty, longer than 63 bytes, NUL byte). */
export class InvalidChannelError extends PgCacheWatchError {
  constructor(channel: string, why: string) {
    super("INVALID_CHANNEL", `invalid channel ${JSON.stringify(channel)}: ${why}`);
  }
}

/** A table already has a trigger with PGCacheWatch's name that PGCacheWatch did not create. */
export class TriggerConflictError extends PgCacheWatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TRIGGER_CONFLICT", message, options);
  }
}

/** The connected role may not do what was asked (create the schema, put triggers on a table, ...). */
export class TriggerPermissionError extends PgCacheWatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PERMISSION_DENIED", message, options);
  }
}

/** The install's event secret cannot be read: not installed yet (revision 2+), or this role may not read it. */
export class EventSecretUnavailableError extends PgCacheWatchError {
  constructor(why: string, options?: { cause?: unknown }) {
    super("EVENT_SECRET_UNAVAILABLE", `cannot read the event secret: ${why}`, options);
  }
}

/** A key column named with `keys` (`--keys`) does not exist in the table. */
export class UnknownColumnError extends PgCacheWatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("UNKNOWN_COLUMN", message, options);
  }
}

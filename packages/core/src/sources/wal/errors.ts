import { PgCacheWatchError } from "../../errors.js";

/**
 * The server (or the role) cannot run the WAL source as configured. The message says what is wrong
 * and exactly how to fix it; the WAL source does not retry these at start.
 */
export class WalConfigurationError extends PgCacheWatchError {
  /** What to run or change, also included in the message. */
  readonly fix: string;
  constructor(code: string, problem: string, fix: string, options?: { cause?: unknown }) {
    super(code, `${problem}\nHow to fix: ${fix}`, options);
    this.fix = fix;
  }
}

/** `wal_level` is not `logical`. */
export class WalLevelError extends WalConfigurationError {
  readonly walLevel: string;
  constructor(walLevel: string) {
    super(
      "WAL_LEVEL_NOT_LOGICAL",
      `PostgreSQL's wal_level is '${walLevel}'; logical replication needs 'logical'.`,
      "run `ALTER SYSTEM SET wal_level = logical;` as a superuser and restart PostgreSQL " +
        "(Amazon RDS/Aurora: set rds.logical_replication = 1 in the parameter group; " +
        "Cloud SQL: set the flag cloudsql.logical_decoding = on; Azure: set wal_level = logical in server parameters). " +
        "Or keep the default NOTIFY source.",
    );
    this.walLevel = walLevel;
  }
}

/** The role may not open replication connections. */
export class ReplicationPrivilegeError extends WalConfigurationError {
  readonly role: string;
  constructor(role: string) {
    super(
      "REPLICATION_PRIVILEGE_MISSING",
      `role "${role}" has no REPLICATION privilege, which a logical replication connection needs.`,
      `run \`ALTER ROLE "${role.replaceAll('"', '""')}" WITH REPLICATION;\` as a superuser ` +
        `(Amazon RDS: \`GRANT rds_replication TO "${role.replaceAll('"', '""')}";\`).`,
    );
    this.role = role;
  }
}

/** Every replication slot (or WAL sender) the server allows is taken. */
export class NoFreeReplicationSlotError extends WalConfigurationError {
  constructor(kind: "slot" | "wal sender", used: number, max: number, inactiveSlots: readonly string[]) {
    const setting = kind === "slot" ? "max_replication_slots" : "max_wal_senders";
    const drop =
      inactiveSlots.length > 0
        ? `drop unused slots (inactive now: ${inactiveSlots.join(", ")}) with \`SELECT pg_drop_replication_slot('name');\`, or `
        : "";
    super(
      kind === "slot" ? "NO_FREE_REPLICATION_SLOT" : "NO_FREE_WAL_SENDER",
      `all ${max} ${kind === "slot" ? "replication slots" : "WAL senders"} are in use (${used} of ${setting} = ${max}).`,
      `${drop}raise ${setting}: \`ALTER SYSTEM SET ${setting} = ${Math.max(max * 2, 10)};\` and restart PostgreSQL.`,
    );
  }
}

/** Watched tables without a replica identity: publishing them would make UPDATE and DELETE on them fail. */
export class MissingReplicaIdentityError extends WalConfigurationError {
  readonly tables: readonly string[];
  constructor(tables: readonly string[]) {
    super(
      "MISSING_REPLICA_IDENTITY",
      `table(s) ${tables.join(", ")} have no primary key and no replica identity. ` +
        "In a publication, PostgreSQL would reject every UPDATE and DELETE on them.",
      "add a primary key, or run `ALTER TABLE <table> REPLICA IDENTITY FULL;` " +
        "(or `REPLICA IDENTITY USING INDEX <unique index>`) for each of them.",
    );
    this.tables = tables;
  }
}

/** A watched table does not exist. */
export class WatchedTableNotFoundError extends WalConfigurationError {
  constructor(tables: readonly string[]) {
    super(
      "WATCHED_TABLE_NOT_FOUND",
      `watched table(s) ${tables.join(", ")} do not exist in this database.`,
      "create them first, or correct the names (schema and table exactly as PostgreSQL stores them).",
    );
  }
}

/** The publication is missing or cannot be created/changed by this role. */
export class PublicationError extends WalConfigurationError {
  constructor(code: string, problem: string, fix: string, options?: { cause?: unknown }) {
    super(code, problem, fix, options);
  }
}

/** A named permanent slot exists but cannot be used (other plugin, other database, physical, in use). */
export class ReplicationSlotError extends WalConfigurationError {
  constructor(code: string, problem: string, fix: string, options?: { cause?: unknown }) {
    super(code, problem, fix, options);
  }
}

/** Options that cannot work together. */
export class WalOptionsError extends PgCacheWatchError {
  constructor(message: string) {
    super("INVALID_WAL_OPTIONS", message);
  }
}

/** The replication stream carried something this decoder does not understand; the stream is restarted. */
export class ReplicationProtocolError extends PgCacheWatchError {
  constructor(message: string) {
    super("REPLICATION_PROTOCOL", message);
  }
}

/** The replication connection went quiet for longer than the heartbeat timeout. */
export class ReplicationTimeoutError extends PgCacheWatchError {
  constructor(silentMs: number) {
    super("REPLICATION_TIMEOUT", `no message from the WAL sender for ${silentMs} ms; reconnecting`);
  }
}

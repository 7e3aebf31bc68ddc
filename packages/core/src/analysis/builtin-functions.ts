/**
 * Which built-in (pg_catalog) functions make a result wrong to share even though PostgreSQL marks
 * them STABLE or IMMUTABLE: they read the clock, the session, the role or server state.
 */

/** The current time: a cached `now()` is a wrong answer. */
const TIME_DEPENDENT = new Set([
  "now",
  "transaction_timestamp",
  "statement_timestamp",
  "clock_timestamp",
  "timeofday",
  "localtime",
  "localtimestamp",
  "current_date",
  "current_time",
  "current_timestamp",
]);

/** The role, the session's settings or its privileges: results differ per role or session. */
const SESSION_DEPENDENT = new Set([
  "current_user",
  "session_user",
  "current_role",
  "user",
  "system_user",
  "getpgusername",
  "current_setting",
  "current_schema",
  "current_schemas",
  "pg_has_role",
  "row_security_active",
  "pg_my_temp_schema",
  "pg_is_other_temp_schema",
  "inet_client_addr",
  "inet_client_port",
]);

/** STABLE `pg_*` functions that only look at their argument, not at server state or catalogs. */
const PURE_PG_FUNCTIONS = new Set([
  "pg_typeof",
  "pg_column_size",
  "pg_column_compression",
  "pg_collation_for",
  "pg_encoding_to_char",
  "pg_char_to_encoding",
  "pg_client_encoding",
]);

/** STABLE functions that read tables or catalogs named in their arguments. */
const CATALOG_READERS =
  /^(to_reg|obj_description$|col_description$|shobj_description$|(table|query|cursor|schema|database)_to_xml|txid_)/;

export interface BuiltinVerdict {
  readonly opaque?: string;
  readonly sessionDependent?: string;
}

const FINE: BuiltinVerdict = {};

/** pg_proc.provolatile: immutable, stable, volatile. */
export type Volatility = "i" | "s" | "v";

/**
 * The verdict on a pg_catalog function. `volatility` is the least stable one among the candidates
 * with that name and arity.
 */
export function classifyBuiltin(name: string, argCount: number, volatility: Volatility): BuiltinVerdict {
  if (SESSION_DEPENDENT.has(name) || /^has_.*_privilege$/.test(name)) {
    return { sessionDependent: `session-dependent ${name}()` };
  }
  if (TIME_DEPENDENT.has(name) || (name === "age" && argCount === 1)) {
    return { opaque: `time-dependent ${name}()` };
  }
  if (volatility === "v") return { opaque: `volatile function ${name}()` };
  // IMMUTABLE ones (pg_size_pretty, txid_snapshot_xmin) depend on their arguments only.
  if (volatility === "i") return FINE;
  if (name.startsWith("txid_")) return { opaque: `transaction-dependent ${name}()` };
  if (name.startsWith("pg_") && !PURE_PG_FUNCTIONS.has(name)) {
    return { opaque: `server-state function ${name}()` };
  }
  if (CATALOG_READERS.test(name)) return { opaque: `catalog-reading function ${name}()` };
  return FINE;
}

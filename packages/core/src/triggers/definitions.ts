/**
 * The SQL PGCacheWatch installs, in one place. `triggerSql()` (migration text) and
 * `installTriggers()` both run these definitions and then call the same SQL functions, so the two
 * can never drift. All logic that touches user tables lives in `watch_table` / `put_triggers` /
 * `unwatch_table`, which resolve names against the catalog as data and build DDL with
 * `format('%I')`; column names travel as trigger arguments (`%L`) and are quoted with `%I` where
 * the trigger function reads them.
 *
 * Revision 3 layout, on each watched table and each of its partitions: one AFTER ... FOR EACH
 * STATEMENT trigger per operation; INSERT, UPDATE and DELETE with transition tables (PostgreSQL
 * allows them on statement triggers of partitions and inheritance children too, only not with
 * TRUNCATE or with several events in one trigger). Arguments: channel, row bound, key columns.
 *
 * Requires PostgreSQL 12+ for `pg_partition_ancestors` / `pg_partition_tree` (PGCacheWatch
 * supports 13+); `EXECUTE FUNCTION` is 11+. `CREATE OR REPLACE TRIGGER` (14+) is not used.
 */

/** The schema every object lives in. */
export const TRIGGER_SCHEMA = "pgcachewatch";
/** The channel triggers NOTIFY on unless told otherwise. */
export const DEFAULT_CHANNEL = "pgcachewatch";
/**
 * The single statement-level trigger of revisions 1 and 2 (every operation, table-wide events).
 * Revision 3 puts one trigger per operation instead (see `KEYED_TRIGGERS`).
 */
export const TRIGGER_NAME = "pgcachewatch_notify";
/**
 * Bumped whenever the function bodies or the trigger layout change, so `ensureTriggers` knows an
 * older install needs replacing. 1: one trigger, payload v1. 2: signed envelopes. 3: per-operation
 * triggers with transition tables sending the changed rows' key values (payload v2). 4: the same
 * triggers and payloads, fewer queries per statement (same arguments: tables need no reinstall).
 */
export const INSTALL_REVISION = 4;
/** The first revision whose triggers send key values. */
export const KEYED_REVISION = 3;

/** AFTER + FOR EACH STATEMENT + INSERT | DELETE | UPDATE | TRUNCATE, as pg_trigger.tgtype encodes it. */
export const TRIGGER_TYPE = 4 | 8 | 16 | 32;

/** Names of the transition tables the keyed triggers read (fixed; they only exist inside the trigger). */
export const OLD_TABLE = "pgcw_old";
export const NEW_TABLE = "pgcw_new";

/** A statement that changes more rows than this sends a table-wide event. */
export const DEFAULT_MAX_ROWS = 1000;
/** Largest accepted `maxRows`: the trigger argument is at most 9 digits. */
export const MAX_MAX_ROWS = 100_000_000;
/**
 * A keyed payload longer than this is sent table-wide instead: NOTIFY refuses 8,000 bytes and
 * more, and the signed envelope adds at most 90 (`s1:`, a 20-digit xid, 64 hex digits, colons).
 */
export const MAX_KEYED_PAYLOAD_BYTES = 7800;
/**
 * Keyed notifications one transaction sends per table; its later statements on the table send the
 * table-wide event (folded into one), so a loop of 10,000 single-row updates sends 101, not 10,000.
 */
export const MAX_KEYED_PER_TRANSACTION = 100;

export interface KeyedTriggerSpec {
  readonly name: string;
  readonly operation: "insert" | "update" | "delete" | "truncate";
  /** AFTER + FOR EACH STATEMENT + the operation, as pg_trigger.tgtype encodes it. */
  readonly type: number;
  readonly oldTable: string | null;
  readonly newTable: string | null;
}

/**
 * Revision 3's triggers, one per operation: transition tables need a trigger of a single event,
 * and are not allowed with TRUNCATE (which stays table-wide).
 */
export const KEYED_TRIGGERS: readonly KeyedTriggerSpec[] = [
  { name: "pgcachewatch_notify_insert", operation: "insert", type: 4, oldTable: null, newTable: NEW_TABLE },
  {
    name: "pgcachewatch_notify_update",
    operation: "update",
    type: 16,
    oldTable: OLD_TABLE,
    newTable: NEW_TABLE,
  },
  { name: "pgcachewatch_notify_delete", operation: "delete", type: 8, oldTable: OLD_TABLE, newTable: null },
  { name: "pgcachewatch_notify_truncate", operation: "truncate", type: 32, oldTable: null, newTable: null },
];

/** Every trigger name PGCacheWatch uses. */
export const ALL_TRIGGER_NAMES: readonly string[] = [
  TRIGGER_NAME,
  ...KEYED_TRIGGERS.map((spec) => spec.name),
];

/**
 * SQL that yields a trigger's arguments (pg_trigger.tgargs, NUL-terminated strings) as text[],
 * without calling anything in schema pgcachewatch, so any role can read it.
 */
export const TRIGGER_ARGUMENTS_EXPRESSION = `ARRAY(
  SELECT pg_catalog.convert_from(pg_catalog.substr(t.tgargs, z.start, z.stop - z.start), pg_catalog.getdatabaseencoding())
    FROM (SELECT coalesce(pg_catalog.lag(i + 2) OVER (ORDER BY i), 1) AS start, i + 1 AS stop
            FROM pg_catalog.generate_series(0, pg_catalog.length(t.tgargs) - 1) AS i
           WHERE pg_catalog.get_byte(t.tgargs, i) = 0) AS z
   ORDER BY z.start)`;

/**
 * The key columns of table `relid` (an SQL expression): primary key and foreign-key columns, plus
 * the columns named in `extra` (a text[] expression), in column order.
 */
export const keyColumnsExpression = (relid: string, extra: string) => `ARRAY(
  SELECT a.attname::text
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = ${relid} AND a.attnum > 0 AND NOT a.attisdropped
     AND (a.attnum = ANY (ARRAY(SELECT pg_catalog.unnest(k.conkey) FROM pg_catalog.pg_constraint k
                                 WHERE k.conrelid = ${relid} AND k.contype IN ('p', 'f')))
          OR a.attname::text = ANY (${extra}))
   ORDER BY a.attnum)`;

export const NOTIFY_FUNCTION = `${TRIGGER_SCHEMA}.notify_change()`;
/** The event trigger function that adds the trigger to partitions created or attached later (opt-in). */
export const FOLLOW_FUNCTION = `${TRIGGER_SCHEMA}.follow_partitions()`;
/** The event trigger installed with `followNewPartitions` (needs a superuser). */
export const EVENT_TRIGGER_NAME = "pgcachewatch_follow_partitions";
export const FUNCTION_COMMENT = `pgcachewatch revision ${INSTALL_REVISION}: statement triggers that NOTIFY payload v2 (key values) or v1 in a signed envelope`;
/** The table that holds the install's event secret (readable by the installing role only). */
export const SECRET_TABLE = `${TRIGGER_SCHEMA}.event_secret`;
/** Returns the signature of a probe id, so a listener can check its eventSecret is the install's. */
export const PROBE_SIGNATURE_FUNCTION = `${TRIGGER_SCHEMA}.probe_signature(text)`;
/** Puts revision 3's triggers on one table; used by watch_table and follow_partitions. */
export const PUT_TRIGGERS_FUNCTION = `${TRIGGER_SCHEMA}.put_triggers(oid, text[])`;

/** The revision recorded in the trigger function's comment, or null if there is none. */
export function revisionFromComment(comment: string | null): number | null {
  const match = comment === null ? null : /^pgcachewatch revision (\d+):/.exec(comment);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Every function install creates, by signature (uninstall drops exactly these). */
export const INSTALLED_FUNCTIONS = [
  `${TRIGGER_SCHEMA}.watch_table(text, text, text, text[], integer)`,
  PUT_TRIGGERS_FUNCTION,
  `${TRIGGER_SCHEMA}.unwatch_table(text, text, text)`,
  `${TRIGGER_SCHEMA}.unwatch_all(text)`,
  FOLLOW_FUNCTION,
  NOTIFY_FUNCTION,
  PROBE_SIGNATURE_FUNCTION,
] as const;

/** Functions of older revisions, dropped when a newer one is installed (and by uninstall). */
export const RETIRED_FUNCTIONS = [`${TRIGGER_SCHEMA}.watch_table(text, text, text)`] as const;

/** Serialises concurrent installs (several app instances starting at once). */
export const INSTALL_LOCK_KEY = 0x70676377; // "pgcw"

/**
 * The trigger function's OID (NULL if not installed), looked up in the catalog rather than with
 * to_regprocedure(), which needs USAGE on the schema: any role may read status.
 */
export const NOTIFY_FUNCTION_OID = `(SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace WHERE pn.nspname = '${TRIGGER_SCHEMA}' AND p.proname = 'notify_change' AND p.pronargs = 0)`;

/** SQL that yields a trigger's channel from pg_trigger.tgargs (first argument, server encoding). */
export const TRIGGER_CHANNEL_EXPRESSION =
  "pg_catalog.convert_from(pg_catalog.substr(t.tgargs, 1, pg_catalog.position(t.tgargs, pg_catalog.decode('00', 'hex')) - 1), pg_catalog.getdatabaseencoding())";

/**
 * HMAC-SHA256 of `message` (text, hashed as UTF-8) with the install's secret, in SQL: the pads
 * (key XOR 0x36 / 0x5c) are stored next to the secret, so this is two sha256() calls (built in
 * since PostgreSQL 11; no pgcrypto needed).
 */
const hmacExpression = (message: string) =>
  `pg_catalog.encode(pg_catalog.sha256(outer_pad || pg_catalog.sha256(inner_pad || pg_catalog.convert_to(${message}, 'UTF8'))), 'hex')`;

/**
 * SECURITY DEFINER: it runs as the installing role, the only one that can read the secret.
 * Writers need nothing on schema pgcachewatch (a trigger's function is not looked up by name when
 * it fires). Everything it sends is built from TG_* variables and the catalog, never from input.
 */
/** Statements of at most this many rows take the JSON path (cheaper for few rows, dearer for many). */
const FAST_PATH_ROWS = 16;
/**
 * The JSON path is for tables whose columns other than the keys are fixed-width, or char/varchar
 * of at most this many characters (no text, bytea or jsonb it would have to detoast).
 */
const FAST_PATH_MAX_CHARS = 1024;

/**
 * The JSON path's aggregate over CTE `r` (one JSON object per row): each key column's distinct
 * values, whether every row has every key column (false after a rename or a drop), and the
 * secret's pads in the same query, which saves the trigger a query per statement.
 */
const FAST_PATH_AGGREGATE = `SELECT a.all_present, a.key_json, s.inner_pad, s.outer_pad
          INTO complete, keys, inner_pad, outer_pad
          FROM (SELECT bool_and(per_column.present) AS all_present,
                       json_object_agg(per_column.name, per_column.vals)::text AS key_json
                  FROM (SELECT c.name, bool_and(r.j ? c.name) AS present,
                               coalesce(json_agg(DISTINCT (r.j ->> c.name) COLLATE "C") FILTER (WHERE r.j ->> c.name IS NOT NULL), '[]'::json) AS vals
                          FROM unnest(TG_ARGV[2:TG_NARGS - 1]) AS c(name) CROSS JOIN r
                         GROUP BY c.name) AS per_column) AS a
          LEFT JOIN ${SECRET_TABLE} s ON s.id;`;

/**
 * Types whose JSON string (`to_jsonb(row) ->> column`) is exactly their text output: smallint,
 * integer, bigint, uuid, text, varchar. A table whose key columns are all of these gets the JSON path.
 */
export const JSON_TEXT_TYPES = [21, 23, 20, 2950, 25, 1043] as const;

/**
 * Calls whose result is not needed are assignments (`done := ...`), not PERFORM: PL/pgSQL
 * evaluates a plain expression directly, while PERFORM runs a query through SPI.
 */
const NOTIFY_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION ${NOTIFY_FUNCTION} RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  channel text := coalesce(TG_ARGV[0], '${DEFAULT_CHANNEL}');
  op text := lower(TG_OP);
  -- Start of the writing transaction: constant within it, so the payload is too and
  -- PostgreSQL folds every statement's notification for this table into one.
  ts text := (extract(epoch FROM transaction_timestamp()) * 1000)::bigint::text;
  -- Also constant within the transaction; makes each transaction's envelopes distinct (replays).
  xid text := pg_current_xact_id()::text;
  inner_pad bytea;
  outer_pad bytea;
  secret_read boolean := false;
  payload text;
  -- The "k" object of payload v2 as JSON text; NULL: the event is table-wide (payload v1).
  keys text;
  max_rows integer;
  rows_seen bigint;
  -- Transition tables an operation has: an UPDATE's rows are counted on both sides.
  sides integer := CASE WHEN TG_OP = 'UPDATE' THEN 2 ELSE 1 END;
  column_list text;
  value_list text;
  source text;
  -- The bound argument ends in "j": every key column's JSON string is its text output.
  json_text boolean;
  complete boolean;
  -- Keyed notifications sent for this table in this transaction (a transaction-local setting).
  counter text;
  sent text;
  done text;
  schemas text[];
  tables text[];
BEGIN
  -- Keyed triggers (revision 3 on) pass the row bound and the key columns after the channel.
  IF TG_NARGS >= 3 AND TG_OP IN ('INSERT', 'UPDATE', 'DELETE') AND TG_ARGV[1] ~ '^[0-9]{1,9}j?$' THEN
    counter := 'pgcachewatch.keyed_' || TG_RELID::text;
    sent := coalesce(nullif(current_setting(counter, true), ''), '0');
    IF sent !~ '^[0-9]{1,9}$' OR sent::integer >= ${MAX_KEYED_PER_TRANSACTION} THEN
      -- Many statements in one transaction: from here on the table-wide event, which PostgreSQL
      -- folds into one notification, instead of one notification per statement.
      max_rows := NULL;
    ELSE
      done := set_config(counter, (sent::integer + 1)::text, true);
      max_rows := rtrim(TG_ARGV[1], 'j')::integer;
      json_text := right(TG_ARGV[1], 1) = 'j';
    END IF;
  END IF;
  IF max_rows IS NOT NULL AND json_text THEN
    -- Small statements: static queries (planned once per trigger) that read the rows as JSON,
    -- instead of planning a query over the key columns at each statement.
    IF TG_OP = 'INSERT' THEN
      SELECT count(*) INTO rows_seen FROM (SELECT 1 FROM ${NEW_TABLE} LIMIT ${FAST_PATH_ROWS + 1}) AS z;
    ELSE
      SELECT count(*) * sides INTO rows_seen FROM (SELECT 1 FROM ${OLD_TABLE} LIMIT ${FAST_PATH_ROWS + 1}) AS z;
    END IF;
    IF rows_seen = 0 THEN
      RETURN NULL; -- the statement changed no row
    END IF;
    IF rows_seen <= ${FAST_PATH_ROWS} * sides THEN
      IF TG_OP = 'INSERT' THEN
        WITH r AS (SELECT to_jsonb(n) AS j FROM ${NEW_TABLE} AS n)
        ${FAST_PATH_AGGREGATE}
      ELSIF TG_OP = 'DELETE' THEN
        WITH r AS (SELECT to_jsonb(o) AS j FROM ${OLD_TABLE} AS o)
        ${FAST_PATH_AGGREGATE}
      ELSE
        WITH r AS (SELECT to_jsonb(o) AS j FROM ${OLD_TABLE} AS o UNION ALL SELECT to_jsonb(n) FROM ${NEW_TABLE} AS n)
        ${FAST_PATH_AGGREGATE}
      END IF;
      secret_read := true;
      IF complete THEN
        json_text := NULL; -- done: skip the general path below
      ELSE
        keys := NULL; -- a key column renamed or dropped since install: let the general path decide
      END IF;
    END IF;
  END IF;
  IF max_rows IS NOT NULL AND json_text IS NOT NULL THEN
    -- COLLATE "C": distinct by bytes, so values equal only under a nondeterministic collation
    -- ('A' and 'a' under a case-insensitive one) are both sent.
    SELECT string_agg(format('%I', c.name), ', '),
           string_agg(format('%L, coalesce(json_agg(DISTINCT %I::text COLLATE "C") FILTER (WHERE %I IS NOT NULL), ''[]''::json)', c.name, c.name, c.name), ', ')
      INTO column_list, value_list
      FROM unnest(TG_ARGV[2:TG_NARGS - 1]) AS c(name);
    -- At most max_rows + 1 rows per side: a statement over the bound costs no more than one at it.
    source := CASE TG_OP
      WHEN 'INSERT' THEN format('(SELECT %s FROM ${NEW_TABLE} LIMIT %s)', column_list, max_rows + 1)
      WHEN 'DELETE' THEN format('(SELECT %s FROM ${OLD_TABLE} LIMIT %s)', column_list, max_rows + 1)
      ELSE format('(SELECT %1$s FROM ${OLD_TABLE} LIMIT %2$s) UNION ALL (SELECT %1$s FROM ${NEW_TABLE} LIMIT %2$s)', column_list, max_rows + 1)
    END;
    BEGIN
      EXECUTE format('SELECT count(*), json_build_object(%s)::text FROM (%s) AS r', value_list, source)
        INTO rows_seen, keys;
    EXCEPTION WHEN OTHERS THEN
      -- A key column renamed or dropped since install (or more than 50 of them): never fail the
      -- user's statement, report the whole table.
      keys := NULL;
      rows_seen := NULL;
    END;
    IF rows_seen = 0 THEN
      RETURN NULL; -- the statement changed no row
    END IF;
  END IF;
  IF rows_seen > max_rows * sides THEN
    keys := NULL;
  END IF;
  IF NOT secret_read THEN
    SELECT s.inner_pad, s.outer_pad INTO inner_pad, outer_pad FROM ${SECRET_TABLE} s WHERE s.id;
  END IF;
  -- The table itself, then (a statement on a partition fires only the partition's own triggers)
  -- the tables above it, with the same key values (a partition's columns are its parent's).
  -- pg_partition_root is a plain expression: a table that is no partition costs no query here.
  IF coalesce(pg_partition_root(TG_RELID), TG_RELID::regclass) = TG_RELID::regclass THEN
    schemas := ARRAY[TG_TABLE_SCHEMA::text];
    tables := ARRAY[TG_TABLE_NAME::text];
  ELSE
    SELECT array_agg(n.nspname::text ORDER BY a.depth), array_agg(c.relname::text ORDER BY a.depth)
      INTO schemas, tables
      FROM pg_partition_ancestors(TG_RELID) WITH ORDINALITY AS a(relid, depth)
      JOIN pg_class c ON c.oid = a.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace;
  END IF;
  FOR i IN 1 .. coalesce(array_length(schemas, 1), 0) LOOP
    payload := NULL;
    IF keys IS NOT NULL THEN
      payload := format('{"v":2,"s":%s,"t":%s,"op":"%s","ts":%s,"k":%s}', to_json(schemas[i]), to_json(tables[i]), op, ts, keys);
      IF octet_length(payload) > ${MAX_KEYED_PAYLOAD_BYTES} THEN
        payload := NULL; -- would not fit in a notification with its envelope: table-wide
      END IF;
    END IF;
    IF payload IS NULL THEN
      payload := format('{"v":1,"s":%s,"t":%s,"op":"%s","ts":%s}', to_json(schemas[i]), to_json(tables[i]), op, ts);
    END IF;
    IF outer_pad IS NOT NULL THEN
      payload := 's1:' || xid || ':' || ${hmacExpression("xid || ':' || payload")} || ':' || payload;
    END IF;
    done := pg_notify(channel, payload);
  END LOOP;
  RETURN NULL;
END
$pgcw$`;

/**
 * The signature of `probe:<id>` (id: 16 to 64 hex digits). A trigger signs `<digits>:<payload>`,
 * so nothing this returns can pass for a change notification.
 */
const PROBE_SIGNATURE_SQL = `CREATE OR REPLACE FUNCTION ${PROBE_SIGNATURE_FUNCTION.replace("(text)", "(probe_id text)")} RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  IF probe_id IS NULL OR probe_id !~ '^[0-9a-f]{16,64}$' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = 'pgcachewatch: a probe id is 16 to 64 hex digits';
  END IF;
  SELECT s.inner_pad, s.outer_pad INTO inner_pad, outer_pad FROM ${SECRET_TABLE} s WHERE s.id;
  IF outer_pad IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN ${hmacExpression("'probe:' || probe_id")};
END
$pgcw$`;

/**
 * The per-install secret: 64 hex digits from gen_random_uuid() (a strong random source, built in
 * since PostgreSQL 13), created once and kept across refreshes. Only its owner (the installing
 * role) may read it: `pgcachewatch secret` prints it for the engine's `eventSecret`.
 */
const SECRET_SQL = `DO $pgcw$
DECLARE
  secret text;
  key bytea;
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = '${TRIGGER_SCHEMA}' AND c.relname = 'event_secret') THEN
    CREATE TABLE ${SECRET_TABLE} (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      secret text NOT NULL,
      inner_pad bytea NOT NULL,
      outer_pad bytea NOT NULL
    );
    REVOKE ALL ON TABLE ${SECRET_TABLE} FROM PUBLIC;
    COMMENT ON TABLE ${SECRET_TABLE} IS 'pgcachewatch: the secret change notifications are signed with (HMAC-SHA256); readable by its owner only';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM ${SECRET_TABLE}) THEN
    secret := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
      pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text, 'UTF8')), 'hex');
    key := pg_catalog.convert_to(secret, 'UTF8');
    inner_pad := key;
    outer_pad := key;
    FOR i IN 0..63 LOOP
      inner_pad := pg_catalog.set_byte(inner_pad, i, pg_catalog.get_byte(key, i) # 54);
      outer_pad := pg_catalog.set_byte(outer_pad, i, pg_catalog.get_byte(key, i) # 92);
    END LOOP;
    INSERT INTO ${SECRET_TABLE} (id, secret, inner_pad, outer_pad) VALUES (true, secret, inner_pad, outer_pad);
  END IF;
END
$pgcw$`;

const RESOLVE_TABLE_SQL = `  SELECT c.oid, c.relkind INTO target, kind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = schema_name AND c.relname = table_name;
  IF target IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'undefined_table',
      MESSAGE = format('pgcachewatch: table %s.%s does not exist', quote_ident(schema_name), quote_ident(table_name));
  END IF;
  IF kind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
      MESSAGE = format('pgcachewatch: %s.%s is not a table', quote_ident(schema_name), quote_ident(table_name)),
      HINT = 'triggers go on ordinary and partitioned tables only';
  END IF;`;

/** The wanted triggers as an SQL VALUES list: (name, type, events, referencing clause, old table, new table, keyed). */
const KEYED_TRIGGER_ROWS = KEYED_TRIGGERS.map((spec) => {
  const referencing = [
    spec.oldTable === null ? "" : `OLD TABLE AS ${spec.oldTable}`,
    spec.newTable === null ? "" : `NEW TABLE AS ${spec.newTable}`,
  ]
    .filter((part) => part !== "")
    .join(" ");
  const literal = (text: string | null) => (text === null ? "NULL::text" : `'${text}'`);
  return `('${spec.name}', ${spec.type}, '${spec.operation.toUpperCase()}', '${referencing === "" ? "" : `REFERENCING ${referencing}`}', ${literal(spec.oldTable)}, ${literal(spec.newTable)}, ${spec.operation !== "truncate"})`;
}).join(",\n      ");

const ALL_TRIGGER_NAMES_ARRAY = `ARRAY[${ALL_TRIGGER_NAMES.map((name) => `'${name}'`).join(", ")}]`;

/**
 * Put exactly revision 3's triggers on one table (or partition), replacing any of ours that differ
 * (revision 1's single trigger, another channel, other key columns, disabled). `args`: channel,
 * row bound, key columns; the TRUNCATE trigger gets the channel only. True if anything changed.
 */
const PUT_TRIGGERS_SQL = `CREATE OR REPLACE FUNCTION ${PUT_TRIGGERS_FUNCTION.replace("(oid, text[])", "(member oid, args text[])")}
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  names record;
  conflict record;
  present record;
  spec record;
  notify oid := '${NOTIFY_FUNCTION}'::regprocedure;
  keyed_args text;
  changed boolean := false;
BEGIN
  SELECT n.nspname, c.relname INTO names
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = member;
  SELECT t.tgname INTO conflict
    FROM pg_trigger t WHERE t.tgrelid = member AND t.tgname = ANY (${ALL_TRIGGER_NAMES_ARRAY}) AND t.tgfoid <> notify
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
      MESSAGE = format('pgcachewatch: %s.%s already has a trigger named %s that pgcachewatch did not create',
        quote_ident(names.nspname), quote_ident(names.relname), quote_ident(conflict.tgname));
  END IF;
  SELECT string_agg(format('%L', x.arg), ', ' ORDER BY x.ord) INTO keyed_args
    FROM unnest(args) WITH ORDINALITY AS x(arg, ord);
  FOR present IN
    SELECT t.tgname, t.tgtype, t.tgenabled, t.tgoldtable::text AS old_table, t.tgnewtable::text AS new_table,
           ${TRIGGER_ARGUMENTS_EXPRESSION.replaceAll("\n", "\n           ")} AS arguments
      FROM pg_trigger t WHERE t.tgrelid = member AND t.tgfoid = notify
  LOOP
    SELECT * INTO spec
      FROM (VALUES
      ${KEYED_TRIGGER_ROWS}) AS w(name, type, events, referencing, old_table, new_table, keyed)
     WHERE w.name = present.tgname;
    CONTINUE WHEN FOUND AND present.tgtype = spec.type AND present.tgenabled = 'O'
      AND present.old_table IS NOT DISTINCT FROM spec.old_table
      AND present.new_table IS NOT DISTINCT FROM spec.new_table
      AND present.arguments = (CASE WHEN spec.keyed THEN args ELSE args[1:1] END);
    EXECUTE format('DROP TRIGGER %I ON %I.%I', present.tgname, names.nspname, names.relname);
    changed := true;
  END LOOP;
  FOR spec IN
    SELECT * FROM (VALUES
      ${KEYED_TRIGGER_ROWS}) AS w(name, type, events, referencing, old_table, new_table, keyed)
     WHERE NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = member AND t.tgname = w.name)
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER %s ON %I.%I %s FOR EACH STATEMENT EXECUTE FUNCTION ${NOTIFY_FUNCTION.replace("()", "")}(%s)',
      spec.name, spec.events, names.nspname, names.relname, spec.referencing,
      CASE WHEN spec.keyed THEN keyed_args ELSE format('%L', args[1]) END);
    changed := true;
  END LOOP;
  RETURN changed;
END
$pgcw$`;

const WATCH_TABLE_SQL = `CREATE OR REPLACE FUNCTION ${TRIGGER_SCHEMA}.watch_table(schema_name text, table_name text, channel text DEFAULT '${DEFAULT_CHANNEL}', key_columns text[] DEFAULT NULL, max_rows integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  target oid;
  kind "char";
  member record;
  extra text[];
  bound text;
  json_text boolean;
  missing text;
  wanted text[];
  changed integer := 0;
BEGIN
  IF channel IS NULL OR channel = '' OR octet_length(channel) > 63 THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('pgcachewatch: invalid channel %L (1 to 63 bytes)', channel);
  END IF;
  IF max_rows IS NOT NULL AND (max_rows < 1 OR max_rows > ${MAX_MAX_ROWS}) THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('pgcachewatch: invalid row bound %s (1 to ${MAX_MAX_ROWS})', coalesce(max_rows::text, 'NULL'));
  END IF;
${RESOLVE_TABLE_SQL}
  IF key_columns IS NULL THEN
    -- Keep the columns the table's triggers send already: keys a user added survive a plain reinstall.
    SELECT (${TRIGGER_ARGUMENTS_EXPRESSION})[3:] INTO extra
      FROM pg_trigger t
     WHERE t.tgrelid = target AND t.tgname = '${KEYED_TRIGGERS[0]?.name}' AND t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure;
    extra := coalesce(extra, '{}');
  ELSE
    SELECT string_agg(quote_ident(k.name), ', ') INTO missing
      FROM unnest(key_columns) AS k(name)
     WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped AND a.attname::text = k.name);
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'undefined_column',
        MESSAGE = format('pgcachewatch: %s.%s has no column %s', quote_ident(schema_name), quote_ident(table_name), missing);
    END IF;
    extra := key_columns;
  END IF;
  IF max_rows IS NULL THEN
    -- Likewise the row bound: the one the triggers have, else the default.
    SELECT (${TRIGGER_ARGUMENTS_EXPRESSION})[2] INTO bound
      FROM pg_trigger t
     WHERE t.tgrelid = target AND t.tgname = '${KEYED_TRIGGERS[0]?.name}' AND t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure;
    bound := rtrim(bound, 'j');
    max_rows := CASE WHEN bound ~ '^[0-9]{1,9}$' AND bound::integer BETWEEN 1 AND ${MAX_MAX_ROWS} THEN bound::integer ELSE ${DEFAULT_MAX_ROWS} END;
  END IF;
  -- Key columns come from the watched table; its partitions have the same column names.
  wanted := ${keyColumnsExpression("target", "extra")};
  -- The bound carries "j" (notify_change's JSON path) when every key column's JSON string is its
  -- text output, and no other column can hold a large value: the JSON path reads whole rows, and
  -- must not detoast a document body to send an id.
  json_text := NOT EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = target AND a.attname::text = ANY (wanted)
                              AND a.atttypid::integer <> ALL (ARRAY[${JSON_TEXT_TYPES.join(", ")}]))
           AND NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
                            WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
                              AND NOT (a.attname::text = ANY (wanted)) AND ty.typlen < 0
                              AND NOT (a.atttypid IN (1042, 1043) AND a.atttypmod BETWEEN 5 AND ${4 + FAST_PATH_MAX_CHARS}));
  wanted := ARRAY[channel, max_rows::text || CASE WHEN json_text THEN 'j' ELSE '' END] || wanted;
  -- The table itself and, if partitioned, every partition below it.
  FOR member IN
    SELECT c.oid
      FROM pg_class c
     WHERE c.oid IN (SELECT target UNION SELECT relid FROM pg_partition_tree(target))
       AND c.relkind IN ('r', 'p')
     ORDER BY c.oid
  LOOP
    IF ${PUT_TRIGGERS_FUNCTION.replace("(oid, text[])", "")}(member.oid, wanted) THEN
      changed := changed + 1;
    END IF;
  END LOOP;
  RETURN changed;
END
$pgcw$`;

const UNWATCH_TABLE_SQL = `CREATE OR REPLACE FUNCTION ${TRIGGER_SCHEMA}.unwatch_table(schema_name text, table_name text, channel text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  target oid;
  kind "char";
  member record;
  removed integer := 0;
BEGIN
${RESOLVE_TABLE_SQL}
  FOR member IN
    SELECT c.oid AS relid, n.nspname, c.relname, t.tgname
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure
       AND t.tgrelid IN (SELECT target UNION SELECT relid FROM pg_partition_tree(target))
       AND (channel IS NULL OR ${TRIGGER_CHANNEL_EXPRESSION} = channel)
     ORDER BY c.oid
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', member.tgname, member.nspname, member.relname);
    -- Counted per table (revision 3 puts four triggers on each).
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = member.relid AND t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure) THEN
      removed := removed + 1;
    END IF;
  END LOOP;
  RETURN removed;
END
$pgcw$`;

const UNWATCH_ALL_SQL = `CREATE OR REPLACE FUNCTION ${TRIGGER_SCHEMA}.unwatch_all(channel text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  member record;
  removed integer := 0;
BEGIN
  FOR member IN
    SELECT c.oid AS relid, n.nspname, c.relname, t.tgname
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure
       AND (channel IS NULL OR ${TRIGGER_CHANNEL_EXPRESSION} = channel)
     ORDER BY c.oid
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', member.tgname, member.nspname, member.relname);
    -- Counted per table (revision 3 puts four triggers on each).
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = member.relid AND t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure) THEN
      removed := removed + 1;
    END IF;
  END LOOP;
  RETURN removed;
END
$pgcw$`;

/**
 * Runs after every CREATE TABLE / ALTER TABLE of every role. It must never fail their DDL: no
 * name lookups that need privileges (the function is found by OID in the catalog, not with a
 * regprocedure cast, which needs USAGE on the schema), and every error becomes a WARNING.
 * SECURITY DEFINER (owned by the superuser who installed it), so a partition another role creates
 * below a watched table still gets its trigger.
 */
const FOLLOW_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION ${FOLLOW_FUNCTION} RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  member record;
  notify_oid oid;
BEGIN
  notify_oid := ${NOTIFY_FUNCTION_OID};
  IF notify_oid IS NULL THEN
    RETURN;
  END IF;
  -- Partitions (in the trees the DDL touched) that lack the trigger while a table above them has it.
  FOR member IN
    SELECT DISTINCT c.oid, n.nspname, c.relname, w.arguments
      FROM pg_event_trigger_ddl_commands() AS command
      CROSS JOIN LATERAL pg_partition_tree(pg_partition_root(command.objid)) AS tree
      JOIN pg_class c ON c.oid = tree.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL (
        -- The nearest watched table's arguments (channel, row bound, key columns).
        SELECT ${TRIGGER_ARGUMENTS_EXPRESSION} AS arguments
          FROM pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, depth)
          JOIN pg_trigger t ON t.tgrelid = a.relid AND t.tgfoid = notify_oid
                           AND t.tgname IN ('${KEYED_TRIGGERS[0]?.name}', '${TRIGGER_NAME}')
         WHERE a.relid <> c.oid
         ORDER BY a.depth
         LIMIT 1
      ) w
     WHERE command.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND c.relispartition AND c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgfoid = notify_oid)
     ORDER BY c.oid
  LOOP
    BEGIN
      PERFORM ${PUT_TRIGGERS_FUNCTION.replace("(oid, text[])", "")}(member.oid, member.arguments);
    EXCEPTION WHEN OTHERS THEN
      -- Never fail the user's DDL; status reports the partition as unwatched.
      RAISE WARNING 'pgcachewatch: could not add the change trigger to %.%: %',
        quote_ident(member.nspname), quote_ident(member.relname), SQLERRM;
    END;
  END LOOP;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'pgcachewatch: following new partitions failed (the DDL itself went through): %', SQLERRM;
END
$pgcw$`;

/** Creates the event trigger unless it exists (enabling it if it was disabled). Needs a superuser. */
export const FOLLOW_PARTITIONS_STATEMENT = `DO $pgcw$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = '${EVENT_TRIGGER_NAME}') THEN
    CREATE EVENT TRIGGER ${EVENT_TRIGGER_NAME} ON ddl_command_end
      WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
      EXECUTE FUNCTION ${FOLLOW_FUNCTION.replace("()", "")}();
  ELSIF (SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = '${EVENT_TRIGGER_NAME}') = 'D' THEN
    ALTER EVENT TRIGGER ${EVENT_TRIGGER_NAME} ENABLE;
  END IF;
END
$pgcw$`;

/** Statements that create (or refresh) the schema and the functions. Idempotent. */
export const SETUP_STATEMENTS: readonly string[] = [
  // Not CREATE SCHEMA IF NOT EXISTS: that checks the CREATE privilege on the database even when the
  // schema exists, which would stop a role without it from refreshing an install a DBA made.
  `DO $pgcw$
BEGIN
  IF pg_catalog.to_regnamespace('${TRIGGER_SCHEMA}') IS NULL THEN
    CREATE SCHEMA ${TRIGGER_SCHEMA};
  END IF;
END
$pgcw$`,
  SECRET_SQL,
  NOTIFY_FUNCTION_SQL,
  `COMMENT ON FUNCTION ${NOTIFY_FUNCTION} IS '${FUNCTION_COMMENT}'`,
  PROBE_SIGNATURE_SQL,
  // Lets listeners call probe_signature() and partitions' owners reference the trigger function;
  // the secret table stays readable by its owner only.
  `GRANT USAGE ON SCHEMA ${TRIGGER_SCHEMA} TO PUBLIC`,
  ...RETIRED_FUNCTIONS.map((signature) => `DROP FUNCTION IF EXISTS ${signature}`),
  PUT_TRIGGERS_SQL,
  WATCH_TABLE_SQL,
  UNWATCH_TABLE_SQL,
  UNWATCH_ALL_SQL,
  FOLLOW_FUNCTION_SQL,
];

/** Statements that remove the functions and, if nothing else lives in it, the schema. Run after `unwatch_all()`. */
export const TEARDOWN_STATEMENTS: readonly string[] = [
  `DROP EVENT TRIGGER IF EXISTS ${EVENT_TRIGGER_NAME}`,
  ...[...INSTALLED_FUNCTIONS, ...RETIRED_FUNCTIONS].map(
    (signature) => `DROP FUNCTION IF EXISTS ${signature}`,
  ),
  `DROP TABLE IF EXISTS ${SECRET_TABLE}`,
  `DO $pgcw$
BEGIN
  DROP SCHEMA IF EXISTS ${TRIGGER_SCHEMA};
EXCEPTION WHEN dependent_objects_still_exist THEN
  RAISE NOTICE 'schema ${TRIGGER_SCHEMA} kept: it holds objects pgcachewatch did not create';
END
$pgcw$`,
];

/** Call text for one table; arguments are SQL text already quoted as literals or `$n` placeholders. */
export function watchTableCall(
  schema: string,
  table: string,
  channel: string,
  keyColumns = "NULL",
  maxRows = "NULL",
): string {
  return `SELECT ${TRIGGER_SCHEMA}.watch_table(${schema}, ${table}, ${channel}, ${keyColumns}::text[], ${maxRows}::integer)`;
}

export function unwatchTableCall(schema: string, table: string, channel?: string): string {
  return channel === undefined
    ? `SELECT ${TRIGGER_SCHEMA}.unwatch_table(${schema}, ${table})`
    : `SELECT ${TRIGGER_SCHEMA}.unwatch_table(${schema}, ${table}, ${channel})`;
}

export function unwatchAllCall(channel?: string): string {
  return channel === undefined
    ? `SELECT ${TRIGGER_SCHEMA}.unwatch_all()`
    : `SELECT ${TRIGGER_SCHEMA}.unwatch_all(${channel})`;
}

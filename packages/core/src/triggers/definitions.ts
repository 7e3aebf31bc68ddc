/**
 * The SQL PGCacheWatch installs, in one place. `triggerSql()` (migration text) and
 * `installTriggers()` both run these definitions and then call the same SQL functions, so the two
 * can never drift. All logic that touches user tables lives in `watch_table` / `unwatch_table`,
 * which resolve names against the catalog as data and build DDL with `format('%I')`.
 *
 * Requires PostgreSQL 12+ for `pg_partition_ancestors` / `pg_partition_tree` (PGCacheWatch
 * supports 13+); `EXECUTE FUNCTION` is 11+. `CREATE OR REPLACE TRIGGER` (14+) is not used.
 */

/** The schema every object lives in. */
export const TRIGGER_SCHEMA = "pgcachewatch";
/** The channel triggers NOTIFY on unless told otherwise. */
export const DEFAULT_CHANNEL = "pgcachewatch";
/** The name of the statement-level trigger put on each watched table (and each of its partitions). */
export const TRIGGER_NAME = "pgcachewatch_notify";
/** Bumped whenever the function bodies change, so `ensureTriggers` knows an older install needs replacing. */
export const INSTALL_REVISION = 1;

/** AFTER + FOR EACH STATEMENT + INSERT | DELETE | UPDATE | TRUNCATE, as pg_trigger.tgtype encodes it. */
export const TRIGGER_TYPE = 4 | 8 | 16 | 32;

export const NOTIFY_FUNCTION = `${TRIGGER_SCHEMA}.notify_change()`;
export const FUNCTION_COMMENT = `pgcachewatch revision ${INSTALL_REVISION}: statement trigger that NOTIFYs payload v1`;

/** Every function install creates, by signature (uninstall drops exactly these). */
export const INSTALLED_FUNCTIONS = [
  `${TRIGGER_SCHEMA}.watch_table(text, text, text)`,
  `${TRIGGER_SCHEMA}.unwatch_table(text, text, text)`,
  `${TRIGGER_SCHEMA}.unwatch_all(text)`,
  NOTIFY_FUNCTION,
] as const;

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

const NOTIFY_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION ${NOTIFY_FUNCTION} RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  channel text := coalesce(TG_ARGV[0], '${DEFAULT_CHANNEL}');
  op text := lower(TG_OP);
  -- Start of the writing transaction: constant within it, so the payload is too and
  -- PostgreSQL folds every statement's notification for this table into one.
  ts text := (extract(epoch FROM transaction_timestamp()) * 1000)::bigint::text;
  ancestor record;
BEGIN
  PERFORM pg_notify(channel, format('{"v":1,"s":%s,"t":%s,"op":"%s","ts":%s}',
    to_json(TG_TABLE_SCHEMA::text), to_json(TG_TABLE_NAME::text), op, ts));
  -- A statement on a partition fires only the partition's own triggers: report the tables above it.
  FOR ancestor IN
    SELECT n.nspname, c.relname
      FROM pg_partition_ancestors(TG_RELID) AS a
      JOIN pg_class c ON c.oid = a.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.relid <> TG_RELID
  LOOP
    PERFORM pg_notify(channel, format('{"v":1,"s":%s,"t":%s,"op":"%s","ts":%s}',
      to_json(ancestor.nspname::text), to_json(ancestor.relname::text), op, ts));
  END LOOP;
  RETURN NULL;
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

const WATCH_TABLE_SQL = `CREATE OR REPLACE FUNCTION ${TRIGGER_SCHEMA}.watch_table(schema_name text, table_name text, channel text DEFAULT '${DEFAULT_CHANNEL}')
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  target oid;
  kind "char";
  member record;
  existing record;
  wanted_args bytea;
  changed integer := 0;
BEGIN
  IF channel IS NULL OR channel = '' OR octet_length(channel) > 63 THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('pgcachewatch: invalid channel %L (1 to 63 bytes)', channel);
  END IF;
${RESOLVE_TABLE_SQL}
  wanted_args := convert_to(channel, getdatabaseencoding()) || decode('00', 'hex');
  -- The table itself and, if partitioned, every partition below it.
  FOR member IN
    SELECT c.oid, n.nspname, c.relname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid IN (SELECT target UNION SELECT relid FROM pg_partition_tree(target))
       AND c.relkind IN ('r', 'p')
     ORDER BY c.oid
  LOOP
    SELECT t.tgfoid, t.tgtype, t.tgenabled, t.tgargs INTO existing
      FROM pg_trigger t WHERE t.tgrelid = member.oid AND t.tgname = '${TRIGGER_NAME}';
    IF FOUND THEN
      IF existing.tgfoid <> '${NOTIFY_FUNCTION}'::regprocedure THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
          MESSAGE = format('pgcachewatch: %s.%s already has a trigger named ${TRIGGER_NAME} that pgcachewatch did not create', quote_ident(member.nspname), quote_ident(member.relname));
      END IF;
      CONTINUE WHEN existing.tgtype = ${TRIGGER_TYPE} AND existing.tgenabled = 'O' AND existing.tgargs = wanted_args;
      EXECUTE format('DROP TRIGGER ${TRIGGER_NAME} ON %I.%I', member.nspname, member.relname);
    END IF;
    EXECUTE format('CREATE TRIGGER ${TRIGGER_NAME} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION ${NOTIFY_FUNCTION.replace("()", "")}(%L)',
      member.nspname, member.relname, channel);
    changed := changed + 1;
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
    SELECT n.nspname, c.relname, t.tgname
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure
       AND t.tgrelid IN (SELECT target UNION SELECT relid FROM pg_partition_tree(target))
       AND (channel IS NULL OR t.tgargs = convert_to(channel, getdatabaseencoding()) || decode('00', 'hex'))
     ORDER BY c.oid
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', member.tgname, member.nspname, member.relname);
    removed := removed + 1;
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
    SELECT n.nspname, c.relname, t.tgname
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgfoid = '${NOTIFY_FUNCTION}'::regprocedure
       AND (channel IS NULL OR t.tgargs = convert_to(channel, getdatabaseencoding()) || decode('00', 'hex'))
     ORDER BY c.oid
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', member.tgname, member.nspname, member.relname);
    removed := removed + 1;
  END LOOP;
  RETURN removed;
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
  NOTIFY_FUNCTION_SQL,
  `COMMENT ON FUNCTION ${NOTIFY_FUNCTION} IS '${FUNCTION_COMMENT}'`,
  WATCH_TABLE_SQL,
  UNWATCH_TABLE_SQL,
  UNWATCH_ALL_SQL,
];

/** Statements that remove the functions and, if nothing else lives in it, the schema. Run after `unwatch_all()`. */
export const TEARDOWN_STATEMENTS: readonly string[] = [
  ...INSTALLED_FUNCTIONS.map((signature) => `DROP FUNCTION IF EXISTS ${signature}`),
  `DO $pgcw$
BEGIN
  DROP SCHEMA IF EXISTS ${TRIGGER_SCHEMA};
EXCEPTION WHEN dependent_objects_still_exist THEN
  RAISE NOTICE 'schema ${TRIGGER_SCHEMA} kept: it holds objects pgcachewatch did not create';
END
$pgcw$`,
];

/** Call text for one table; arguments are SQL text already quoted as literals or `$n` placeholders. */
export function watchTableCall(schema: string, table: string, channel: string): string {
  return `SELECT ${TRIGGER_SCHEMA}.watch_table(${schema}, ${table}, ${channel})`;
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

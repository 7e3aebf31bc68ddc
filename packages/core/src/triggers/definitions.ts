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
export const INSTALL_REVISION = 2;

/** AFTER + FOR EACH STATEMENT + INSERT | DELETE | UPDATE | TRUNCATE, as pg_trigger.tgtype encodes it. */
export const TRIGGER_TYPE = 4 | 8 | 16 | 32;

export const NOTIFY_FUNCTION = `${TRIGGER_SCHEMA}.notify_change()`;
/** The event trigger function that adds the trigger to partitions created or attached later (opt-in). */
export const FOLLOW_FUNCTION = `${TRIGGER_SCHEMA}.follow_partitions()`;
/** The event trigger installed with `followNewPartitions` (needs a superuser). */
export const EVENT_TRIGGER_NAME = "pgcachewatch_follow_partitions";
export const FUNCTION_COMMENT = `pgcachewatch revision ${INSTALL_REVISION}: statement trigger that NOTIFYs payload v1 in a signed envelope`;
/** The table that holds the install's event secret (readable by the installing role only). */
export const SECRET_TABLE = `${TRIGGER_SCHEMA}.event_secret`;
/** Returns the signature of a probe id, so a listener can check its eventSecret is the install's. */
export const PROBE_SIGNATURE_FUNCTION = `${TRIGGER_SCHEMA}.probe_signature(text)`;

/** The revision recorded in the trigger function's comment, or null if there is none. */
export function revisionFromComment(comment: string | null): number | null {
  const match = comment === null ? null : /^pgcachewatch revision (\d+):/.exec(comment);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Every function install creates, by signature (uninstall drops exactly these). */
export const INSTALLED_FUNCTIONS = [
  `${TRIGGER_SCHEMA}.watch_table(text, text, text)`,
  `${TRIGGER_SCHEMA}.unwatch_table(text, text, text)`,
  `${TRIGGER_SCHEMA}.unwatch_all(text)`,
  FOLLOW_FUNCTION,
  NOTIFY_FUNCTION,
  PROBE_SIGNATURE_FUNCTION,
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
  payload text;
  target record;
BEGIN
  SELECT s.inner_pad, s.outer_pad INTO inner_pad, outer_pad FROM ${SECRET_TABLE} s WHERE s.id;
  -- The table itself, then (a statement on a partition fires only the partition's own triggers)
  -- the tables above it.
  FOR target IN
    SELECT TG_TABLE_SCHEMA::text AS nspname, TG_TABLE_NAME::text AS relname, 0 AS depth
    UNION ALL
    SELECT n.nspname::text, c.relname::text, 1
      FROM pg_partition_ancestors(TG_RELID) AS a
      JOIN pg_class c ON c.oid = a.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.relid <> TG_RELID
     ORDER BY depth
  LOOP
    payload := format('{"v":1,"s":%s,"t":%s,"op":"%s","ts":%s}', to_json(target.nspname), to_json(target.relname), op, ts);
    IF outer_pad IS NOT NULL THEN
      payload := 's1:' || xid || ':' || ${hmacExpression("xid || ':' || payload")} || ':' || payload;
    END IF;
    PERFORM pg_notify(channel, payload);
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
    SELECT DISTINCT c.oid, n.nspname, c.relname, w.channel
      FROM pg_event_trigger_ddl_commands() AS command
      CROSS JOIN LATERAL pg_partition_tree(pg_partition_root(command.objid)) AS tree
      JOIN pg_class c ON c.oid = tree.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL (
        SELECT ${TRIGGER_CHANNEL_EXPRESSION} AS channel
          FROM pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, depth)
          JOIN pg_trigger t ON t.tgrelid = a.relid AND t.tgfoid = notify_oid
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
      EXECUTE format('CREATE TRIGGER ${TRIGGER_NAME} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION ${NOTIFY_FUNCTION.replace("()", "")}(%L)',
        member.nspname, member.relname, member.channel);
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
  WATCH_TABLE_SQL,
  UNWATCH_TABLE_SQL,
  UNWATCH_ALL_SQL,
  FOLLOW_FUNCTION_SQL,
];

/** Statements that remove the functions and, if nothing else lives in it, the schema. Run after `unwatch_all()`. */
export const TEARDOWN_STATEMENTS: readonly string[] = [
  `DROP EVENT TRIGGER IF EXISTS ${EVENT_TRIGGER_NAME}`,
  ...INSTALLED_FUNCTIONS.map((signature) => `DROP FUNCTION IF EXISTS ${signature}`),
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

-- PGCacheWatch trigger functions, revision 1 (as released before revision 2), for the upgrade test.
-- Generated from the revision-1 definitions.ts; watch a table with SELECT pgcachewatch.watch_table(schema, table, channel).
DO $pgcw$
BEGIN
  IF pg_catalog.to_regnamespace('pgcachewatch') IS NULL THEN
    CREATE SCHEMA pgcachewatch;
  END IF;
END
$pgcw$;

CREATE OR REPLACE FUNCTION pgcachewatch.notify_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  channel text := coalesce(TG_ARGV[0], 'pgcachewatch');
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
$pgcw$;

COMMENT ON FUNCTION pgcachewatch.notify_change() IS 'pgcachewatch revision 1: statement trigger that NOTIFYs payload v1';

CREATE OR REPLACE FUNCTION pgcachewatch.watch_table(schema_name text, table_name text, channel text DEFAULT 'pgcachewatch')
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
  SELECT c.oid, c.relkind INTO target, kind
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
  END IF;
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
      FROM pg_trigger t WHERE t.tgrelid = member.oid AND t.tgname = 'pgcachewatch_notify';
    IF FOUND THEN
      IF existing.tgfoid <> 'pgcachewatch.notify_change()'::regprocedure THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
          MESSAGE = format('pgcachewatch: %s.%s already has a trigger named pgcachewatch_notify that pgcachewatch did not create', quote_ident(member.nspname), quote_ident(member.relname));
      END IF;
      CONTINUE WHEN existing.tgtype = 60 AND existing.tgenabled = 'O' AND existing.tgargs = wanted_args;
      EXECUTE format('DROP TRIGGER pgcachewatch_notify ON %I.%I', member.nspname, member.relname);
    END IF;
    EXECUTE format('CREATE TRIGGER pgcachewatch_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION pgcachewatch.notify_change(%L)',
      member.nspname, member.relname, channel);
    changed := changed + 1;
  END LOOP;
  RETURN changed;
END
$pgcw$;

CREATE OR REPLACE FUNCTION pgcachewatch.unwatch_table(schema_name text, table_name text, channel text DEFAULT NULL)
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
  SELECT c.oid, c.relkind INTO target, kind
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
  END IF;
  FOR member IN
    SELECT n.nspname, c.relname, t.tgname
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgfoid = 'pgcachewatch.notify_change()'::regprocedure
       AND t.tgrelid IN (SELECT target UNION SELECT relid FROM pg_partition_tree(target))
       AND (channel IS NULL OR t.tgargs = convert_to(channel, getdatabaseencoding()) || decode('00', 'hex'))
     ORDER BY c.oid
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', member.tgname, member.nspname, member.relname);
    removed := removed + 1;
  END LOOP;
  RETURN removed;
END
$pgcw$;

CREATE OR REPLACE FUNCTION pgcachewatch.unwatch_all(channel text DEFAULT NULL)
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
     WHERE t.tgfoid = 'pgcachewatch.notify_change()'::regprocedure
       AND (channel IS NULL OR t.tgargs = convert_to(channel, getdatabaseencoding()) || decode('00', 'hex'))
     ORDER BY c.oid
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', member.tgname, member.nspname, member.relname);
    removed := removed + 1;
  END LOOP;
  RETURN removed;
END
$pgcw$;

CREATE OR REPLACE FUNCTION pgcachewatch.follow_partitions() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  member record;
BEGIN
  -- Partitions (in the trees the DDL touched) that lack the trigger while a table above them has it.
  FOR member IN
    SELECT DISTINCT c.oid, n.nspname, c.relname, w.channel
      FROM pg_event_trigger_ddl_commands() AS command
      CROSS JOIN LATERAL pg_partition_tree(pg_partition_root(command.objid)) AS tree
      JOIN pg_class c ON c.oid = tree.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL (
        SELECT pg_catalog.convert_from(pg_catalog.substr(t.tgargs, 1, pg_catalog.position(t.tgargs, pg_catalog.decode('00', 'hex')) - 1), pg_catalog.getdatabaseencoding()) AS channel
          FROM pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, depth)
          JOIN pg_trigger t ON t.tgrelid = a.relid AND t.tgfoid = 'pgcachewatch.notify_change()'::regprocedure
         WHERE a.relid <> c.oid
         ORDER BY a.depth
         LIMIT 1
      ) w
     WHERE command.classid = 'pg_class'::regclass
       AND c.relispartition AND c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgfoid = 'pgcachewatch.notify_change()'::regprocedure)
     ORDER BY c.oid
  LOOP
    BEGIN
      EXECUTE format('CREATE TRIGGER pgcachewatch_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION pgcachewatch.notify_change(%L)',
        member.nspname, member.relname, member.channel);
    EXCEPTION WHEN OTHERS THEN
      -- Never fail the user's DDL; status reports the partition as unwatched.
      RAISE WARNING 'pgcachewatch: could not add the change trigger to %.%: %',
        quote_ident(member.nspname), quote_ident(member.relname), SQLERRM;
    END;
  END LOOP;
END
$pgcw$;

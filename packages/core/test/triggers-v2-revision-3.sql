-- PGCacheWatch's trigger function, revision 3 (as released before revision 4), for the upgrade test.
-- Installed over a current install: revision 3's triggers call it with the same arguments.
CREATE OR REPLACE FUNCTION pgcachewatch.notify_change() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  channel text := coalesce(TG_ARGV[0], 'pgcachewatch');
  op text := lower(TG_OP);
  -- Start of the writing transaction: constant within it, so the payload is too and
  -- PostgreSQL folds every statement's notification for this table into one.
  ts text := (extract(epoch FROM transaction_timestamp()) * 1000)::bigint::text;
  -- Also constant within the transaction; makes each transaction's envelopes distinct (replays).
  xid text := pg_current_xact_id()::text;
  inner_pad bytea;
  outer_pad bytea;
  payload text;
  -- The "k" object of payload v2 as JSON text; NULL: the event is table-wide (payload v1).
  keys text;
  max_rows integer;
  rows_seen bigint;
  column_list text;
  value_list text;
  source text;
  -- The bound argument ends in "j": every key column's JSON string is its text output.
  json_text boolean;
  complete boolean;
  -- Keyed notifications sent for this table in this transaction (a transaction-local setting).
  counter text := 'pgcachewatch.keyed_' || TG_RELID::text;
  sent text;
  target record;
BEGIN
  -- Keyed triggers (revision 3) pass the row bound and the key columns after the channel.
  IF TG_NARGS >= 3 AND TG_OP IN ('INSERT', 'UPDATE', 'DELETE') AND TG_ARGV[1] ~ '^[0-9]{1,9}j?$' THEN
    sent := coalesce(nullif(current_setting(counter, true), ''), '0');
    IF sent !~ '^[0-9]{1,9}$' OR sent::integer >= 100 THEN
      -- Many statements in one transaction: from here on the table-wide event, which PostgreSQL
      -- folds into one notification, instead of one notification per statement.
      max_rows := NULL;
    ELSE
      PERFORM set_config(counter, (sent::integer + 1)::text, true);
      max_rows := rtrim(TG_ARGV[1], 'j')::integer;
      json_text := right(TG_ARGV[1], 1) = 'j';
    END IF;
  END IF;
  IF max_rows IS NOT NULL AND json_text THEN
    -- Small statements: static queries (planned once per trigger) that read the rows as JSON,
    -- instead of planning a query over the key columns at each statement.
    IF TG_OP = 'INSERT' THEN
      SELECT count(*) INTO rows_seen FROM (SELECT 1 FROM pgcw_new LIMIT 17) AS z;
    ELSE
      SELECT count(*) INTO rows_seen FROM (SELECT 1 FROM pgcw_old LIMIT 17) AS z;
    END IF;
    IF rows_seen = 0 THEN
      RETURN NULL; -- the statement changed no row
    END IF;
    IF rows_seen <= 16 THEN
      IF TG_OP = 'INSERT' THEN
        WITH r AS (SELECT to_jsonb(n) AS j FROM pgcw_new AS n)
        SELECT bool_and(per_column.present), json_object_agg(per_column.name, per_column.vals)::text
          INTO complete, keys
          FROM (SELECT c.name, bool_and(r.j ? c.name) AS present,
                       coalesce(json_agg(DISTINCT (r.j ->> c.name) COLLATE "C") FILTER (WHERE r.j ->> c.name IS NOT NULL), '[]'::json) AS vals
                  FROM unnest(TG_ARGV[2:TG_NARGS - 1]) AS c(name) CROSS JOIN r
                 GROUP BY c.name) AS per_column;
      ELSIF TG_OP = 'DELETE' THEN
        WITH r AS (SELECT to_jsonb(o) AS j FROM pgcw_old AS o)
        SELECT bool_and(per_column.present), json_object_agg(per_column.name, per_column.vals)::text
          INTO complete, keys
          FROM (SELECT c.name, bool_and(r.j ? c.name) AS present,
                       coalesce(json_agg(DISTINCT (r.j ->> c.name) COLLATE "C") FILTER (WHERE r.j ->> c.name IS NOT NULL), '[]'::json) AS vals
                  FROM unnest(TG_ARGV[2:TG_NARGS - 1]) AS c(name) CROSS JOIN r
                 GROUP BY c.name) AS per_column;
      ELSE
        WITH r AS (SELECT to_jsonb(o) AS j FROM pgcw_old AS o UNION ALL SELECT to_jsonb(n) FROM pgcw_new AS n)
        SELECT bool_and(per_column.present), json_object_agg(per_column.name, per_column.vals)::text
          INTO complete, keys
          FROM (SELECT c.name, bool_and(r.j ? c.name) AS present,
                       coalesce(json_agg(DISTINCT (r.j ->> c.name) COLLATE "C") FILTER (WHERE r.j ->> c.name IS NOT NULL), '[]'::json) AS vals
                  FROM unnest(TG_ARGV[2:TG_NARGS - 1]) AS c(name) CROSS JOIN r
                 GROUP BY c.name) AS per_column;
        rows_seen := rows_seen * 2;
      END IF;
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
      WHEN 'INSERT' THEN format('(SELECT %s FROM pgcw_new LIMIT %s)', column_list, max_rows + 1)
      WHEN 'DELETE' THEN format('(SELECT %s FROM pgcw_old LIMIT %s)', column_list, max_rows + 1)
      ELSE format('(SELECT %1$s FROM pgcw_old LIMIT %2$s) UNION ALL (SELECT %1$s FROM pgcw_new LIMIT %2$s)', column_list, max_rows + 1)
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
  IF rows_seen > max_rows * (CASE WHEN TG_OP = 'UPDATE' THEN 2 ELSE 1 END) THEN
    keys := NULL;
  END IF;
  SELECT s.inner_pad, s.outer_pad INTO inner_pad, outer_pad FROM pgcachewatch.event_secret s WHERE s.id;
  -- The table itself, then (a statement on a partition fires only the partition's own triggers)
  -- the tables above it, with the same key values (a partition's columns are its parent's).
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
    payload := NULL;
    IF keys IS NOT NULL THEN
      payload := format('{"v":2,"s":%s,"t":%s,"op":"%s","ts":%s,"k":%s}', to_json(target.nspname), to_json(target.relname), op, ts, keys);
      IF octet_length(payload) > 7800 THEN
        payload := NULL; -- would not fit in a notification with its envelope: table-wide
      END IF;
    END IF;
    IF payload IS NULL THEN
      payload := format('{"v":1,"s":%s,"t":%s,"op":"%s","ts":%s}', to_json(target.nspname), to_json(target.relname), op, ts);
    END IF;
    IF outer_pad IS NOT NULL THEN
      payload := 's1:' || xid || ':' || pg_catalog.encode(pg_catalog.sha256(outer_pad || pg_catalog.sha256(inner_pad || pg_catalog.convert_to(xid || ':' || payload, 'UTF8'))), 'hex') || ':' || payload;
    END IF;
    PERFORM pg_notify(channel, payload);
  END LOOP;
  RETURN NULL;
END
$pgcw$;

COMMENT ON FUNCTION pgcachewatch.notify_change() IS 'pgcachewatch revision 3: statement triggers that NOTIFY payload v2 (key values) or v1 in a signed envelope';

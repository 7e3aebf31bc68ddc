import type pg from "pg";
import { quoteIdentifier } from "../../src/index.js";

/**
 * A minimal statement-level NOTIFY trigger in the v1 payload format, for engine tests that must not
 * depend on the trigger installer.
 */
export async function createTestTrigger(
  client: pg.Client,
  table: string,
  channel = "pgcachewatch",
  schema = "public",
): Promise<void> {
  await client.query(`
    CREATE OR REPLACE FUNCTION public.pgcw_test_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify(TG_ARGV[0], json_build_object('v', 1, 's', TG_TABLE_SCHEMA, 't', TG_TABLE_NAME, 'op', lower(TG_OP))::text);
      RETURN NULL;
    END $$`);
  const target = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  await client.query(`DROP TRIGGER IF EXISTS pgcw_test_notify ON ${target}`);
  await client.query(
    `CREATE TRIGGER pgcw_test_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${target}
     FOR EACH STATEMENT EXECUTE FUNCTION public.pgcw_test_notify(${quoteLiteral(channel)})`,
  );
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

import { quoteIdentifier } from "@pgcachewatch/core/adapter";
import type pg from "pg";
import { MARKER_SCHEMA, MARKER_TABLE } from "./staleness-checker.js";

/**
 * Where the workload lives. The default name is awkward on purpose: mixed case, a space, SQL. (Not a
 * double quote: Prisma 7 does not escape one inside a mapped table name; the hostile-name tests cover it.)
 */
export interface WorkloadTable {
  schema: string;
  table: string;
}

export const DEFAULT_WORKLOAD_TABLE: WorkloadTable = { schema: "public", table: "Chaos Items; --" };

export function qualified(target: WorkloadTable): string {
  return `${quoteIdentifier(target.schema)}.${quoteIdentifier(target.table)}`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Create the workload table with rows 1..rowCount at version 0, and a statement-level NOTIFY
 * trigger in the v1 payload format on `channel`. Idempotent.
 */
export async function createWorkloadSchema(
  client: pg.Client,
  target: WorkloadTable,
  rowCount: number,
  channel: string,
): Promise<void> {
  const name = qualified(target);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(target.schema)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${name} (id int PRIMARY KEY, version bigint NOT NULL DEFAULT 0, pad text NOT NULL DEFAULT '')`,
  );
  await client.query(
    `INSERT INTO ${name} (id) SELECT g FROM generate_series(1, ${Number(rowCount)}) AS g ON CONFLICT DO NOTHING`,
  );
  // Markers for the WAL source: one row per write, named "row:version" (see the checker).
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(MARKER_SCHEMA)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(MARKER_SCHEMA)}.${quoteIdentifier(MARKER_TABLE)} (mark text PRIMARY KEY)`,
  );
  await client.query(`
    CREATE OR REPLACE FUNCTION public.pgcw_chaos_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify(TG_ARGV[0], json_build_object('v', 1, 's', TG_TABLE_SCHEMA, 't', TG_TABLE_NAME, 'op', lower(TG_OP))::text);
      RETURN NULL;
    END $$`);
  await client.query(`DROP TRIGGER IF EXISTS pgcw_chaos_notify ON ${name}`);
  await client.query(
    `CREATE TRIGGER pgcw_chaos_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${name}
     FOR EACH STATEMENT EXECUTE FUNCTION public.pgcw_chaos_notify(${quoteLiteral(channel)})`,
  );
}

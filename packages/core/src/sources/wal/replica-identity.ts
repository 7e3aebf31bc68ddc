import type pg from "pg";
import type { TableRef } from "../../events/table-name.js";
import { PublicationError } from "./errors.js";
import { quoteIdent } from "./quote.js";

/**
 * A table's REPLICA IDENTITY (pg_class.relreplident). Only `full` makes an UPDATE or DELETE carry
 * the old values of every column; otherwise the old row has the key columns only, and the WAL
 * source invalidates the dependencies on the other columns table-wide for that event.
 */
export type ReplicaIdentity = "default" | "full" | "index" | "nothing";

export interface TableReplicaIdentity extends TableRef {
  readonly identity: ReplicaIdentity;
  /** For a partition: the partitioned table it belongs to (it is published under that name). */
  readonly partitionOf?: TableRef;
}

const IDENTITIES: Record<string, ReplicaIdentity> = { d: "default", f: "full", i: "index", n: "nothing" };

interface IdentityRow {
  schema: string;
  table: string;
  identity: string;
  root_schema: string | null;
  root_table: string | null;
}

/**
 * The replica identity of each table and of every partition below it (a partition's old rows are
 * logged with the partition's own identity, even when published under its root's name).
 */
export async function readReplicaIdentities(
  client: pg.Client,
  tables: readonly TableRef[],
): Promise<TableReplicaIdentity[]> {
  if (tables.length === 0) return [];
  const { rows } = await client.query<IdentityRow>(
    `SELECT DISTINCT mn.nspname::text AS schema, mc.relname::text AS table, mc.relreplident::text AS identity,
            CASE WHEN mc.oid <> c.oid THEN n.nspname::text END AS root_schema,
            CASE WHEN mc.oid <> c.oid THEN c.relname::text END AS root_table
       FROM unnest($1::text[], $2::text[]) AS i(schema_name, table_name)
       JOIN pg_catalog.pg_namespace n ON n.nspname = i.schema_name
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = i.table_name AND c.relkind IN ('r', 'p')
       CROSS JOIN LATERAL (SELECT c.oid AS relid UNION SELECT relid FROM pg_catalog.pg_partition_tree(c.oid)) m
       JOIN pg_catalog.pg_class mc ON mc.oid = m.relid AND mc.relkind IN ('r', 'p')
       JOIN pg_catalog.pg_namespace mn ON mn.oid = mc.relnamespace
      ORDER BY 1, 2`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)],
  );
  return rows.map((row) => {
    const base = { schema: row.schema, table: row.table, identity: IDENTITIES[row.identity] ?? "default" };
    return row.root_schema !== null && row.root_table !== null
      ? { ...base, partitionOf: { schema: row.root_schema, table: row.root_table } }
      : base;
  });
}

/**
 * `ALTER TABLE ... REPLICA IDENTITY FULL` on each table (and each of its partitions) that does not
 * have it yet. Works on any server (it needs no logical replication), by the tables' owner.
 * Returns the tables changed.
 */
export async function setReplicaIdentityFull(
  client: pg.Client,
  tables: readonly TableRef[],
): Promise<TableRef[]> {
  const current = await readReplicaIdentities(client, tables);
  const changed: TableRef[] = [];
  for (const table of current) {
    if (table.identity === "full") continue;
    const name = `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
    try {
      await client.query(`ALTER TABLE ${name} REPLICA IDENTITY FULL`);
    } catch (error) {
      if ((error as { code?: string }).code !== "42501") throw error;
      throw new PublicationError(
        "REPLICA_IDENTITY_PERMISSION_DENIED",
        `role may not change the replica identity of ${name}: ${(error as Error).message}`,
        `run \`pgcachewatch wal setup --replica-identity full\` as the table's owner, or \`ALTER TABLE ${name} REPLICA IDENTITY FULL;\``,
        { cause: error },
      );
    }
    changed.push({ schema: table.schema, table: table.table });
  }
  return changed;
}

/** The tables a publication publishes (for FOR ALL TABLES: every table it covers). */
export async function publishedTables(client: pg.Client, publication: string): Promise<TableRef[]> {
  const { rows } = await client.query<{ schemaname: string; tablename: string }>(
    "SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2",
    [publication],
  );
  return rows.map((row) => ({ schema: row.schemaname, table: row.tablename }));
}

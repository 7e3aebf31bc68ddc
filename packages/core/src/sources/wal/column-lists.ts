import type pg from "pg";
import type { TableRef } from "../../events/table-name.js";
import { PublicationError } from "./errors.js";
import { quoteIdent } from "./quote.js";

/**
 * Publication column lists (PostgreSQL 15+): publish only the columns invalidation needs, so the
 * walsender does not decode and send a wide column (a document body) that no query filters on.
 * Safe for freshness: an event carries no values for a column left out, and every entry
 * constrained on such a column is dropped by each event on its table (only coarser).
 */

interface ColumnRow {
  schema: string;
  table: string;
  identity: string;
  columns: string[];
  key_columns: string[];
}

/**
 * The column list of each table: its primary key, replica identity index and foreign-key columns
 * (a column list must cover the replica identity, or UPDATE and DELETE on the table fail) plus the
 * named columns it has. Refused for a table with REPLICA IDENTITY FULL (its list would have to be
 * every column) and for a named column no table has.
 */
export async function publicationColumns(
  client: pg.Client,
  tables: readonly TableRef[],
  extra: readonly string[],
  serverVersionNum: number,
): Promise<Map<string, { table: TableRef; columns: string[] }>> {
  if (serverVersionNum < 150000) {
    throw new PublicationError(
      "COLUMN_LISTS_UNSUPPORTED",
      "publication column lists need PostgreSQL 15 or later.",
      "publish every column (leave out the column list) on this server.",
    );
  }
  const { rows } = await client.query<ColumnRow>(
    `SELECT n.nspname::text AS schema, c.relname::text AS table, c.relreplident::text AS identity,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                     AND (a.attnum = ANY (ARRAY(SELECT pg_catalog.unnest(k.conkey) FROM pg_catalog.pg_constraint k
                                                 WHERE k.conrelid = c.oid AND k.contype IN ('p', 'f')))
                          OR a.attnum = ANY (ARRAY(SELECT pg_catalog.unnest(i.indkey::int2[]) FROM pg_catalog.pg_index i
                                                    WHERE i.indrelid = c.oid AND i.indisreplident)))
                   ORDER BY a.attnum) AS key_columns
       FROM unnest($1::text[], $2::text[]) AS t(schema_name, table_name)
       JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)],
  );
  const full = rows.filter((row) => row.identity === "f");
  if (full.length > 0) {
    throw new PublicationError(
      "COLUMN_LIST_WITH_FULL_IDENTITY",
      `${full.map((row) => `${quoteIdent(row.schema)}.${quoteIdent(row.table)}`).join(", ")} ha${full.length === 1 ? "s" : "ve"} REPLICA IDENTITY FULL: a column list must then name every column, or UPDATE and DELETE on it fail.`,
      "publish every column of those tables (leave out the column list), or set their replica identity back to DEFAULT first.",
    );
  }
  const unknown = extra.filter((column) => !rows.some((row) => row.columns.includes(column)));
  if (unknown.length > 0) {
    throw new PublicationError(
      "UNKNOWN_PUBLICATION_COLUMN",
      `no table named has column ${unknown.map((column) => quoteIdent(column)).join(", ")}.`,
      "name columns the tables have (the key columns are always published).",
    );
  }
  const lists = new Map<string, { table: TableRef; columns: string[] }>();
  for (const row of rows) {
    const wanted = new Set([...row.key_columns, ...extra]);
    lists.set(tableKey(row), {
      table: { schema: row.schema, table: row.table },
      columns: row.columns.filter((column) => wanted.has(column)),
    });
  }
  return lists;
}

function tableKey(ref: TableRef): string {
  return `${ref.schema}\u0000${ref.table}`;
}

/**
 * Give each table its column list in the publication (which already publishes it): dropped and
 * added again in one transaction where the list differs. Returns the tables changed.
 */
export async function applyColumnLists(
  client: pg.Client,
  publication: string,
  lists: ReadonlyMap<string, { table: TableRef; columns: string[] }>,
): Promise<TableRef[]> {
  const { rows } = await client.query<{ schema: string; table: string; columns: string[] }>(
    `SELECT schemaname::text AS schema, tablename::text AS table, attnames::text[] AS columns
       FROM pg_catalog.pg_publication_tables WHERE pubname = $1`,
    [publication],
  );
  const current = new Map(rows.map((row) => [tableKey(row), row.columns]));
  const changed: TableRef[] = [];
  const name = quoteIdent(publication);
  await client.query("BEGIN");
  try {
    for (const [key, { table, columns }] of lists) {
      const have = current.get(key);
      if (have !== undefined && have.length === columns.length && have.every((c, i) => c === columns[i]))
        continue;
      const target = `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
      if (have !== undefined) await client.query(`ALTER PUBLICATION ${name} DROP TABLE ${target}`);
      await client.query(
        `ALTER PUBLICATION ${name} ADD TABLE ${target} (${columns.map((column) => quoteIdent(column)).join(", ")})`,
      );
      changed.push(table);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
  return changed;
}

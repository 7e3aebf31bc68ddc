import type { ClientBase } from "pg";
import { DEFAULT_SCHEMA, type TableInput, type TableRef, toTableRef } from "../events/table-name.js";
import { NotATableError, UnknownTableError } from "./errors.js";

const RELATION_KINDS: Readonly<Record<string, string>> = {
  v: "view",
  m: "materialized view",
  S: "sequence",
  f: "foreign table",
  i: "index",
  I: "partitioned index",
  c: "composite type",
  t: "TOAST table",
};

interface CatalogRow {
  ord: string;
  relkind: string | null;
  suggestion_schema: string | null;
  suggestion_table: string | null;
}

/** Normalise inputs with `toTableRef`, dropping duplicates (first spelling wins). */
export function toTableRefs(tables: readonly TableInput[], defaultSchema = DEFAULT_SCHEMA): TableRef[] {
  const seen = new Set<string>();
  const refs: TableRef[] = [];
  for (const input of tables) {
    const ref = toTableRef(input, defaultSchema);
    const key = `${ref.schema}\u0000${ref.table}`;
    if (seen.has(key)) continue;
    seen.add(key);
    refs.push(ref);
  }
  return refs;
}

/**
 * Check every table exists and can carry triggers, looking names up in the catalog as bound data.
 * Throws {@link UnknownTableError} (naming all missing tables, with a case-insensitive suggestion
 * where one exists) or {@link NotATableError}.
 */
export async function resolveTables(connection: ClientBase, refs: readonly TableRef[]): Promise<void> {
  if (refs.length === 0) return;
  const { rows } = await connection.query<CatalogRow>(
    `SELECT i.ord::text AS ord, c.relkind::text AS relkind,
            s.nspname AS suggestion_schema, s.relname AS suggestion_table
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS i(schema_name, table_name, ord)
       LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = i.schema_name
       LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = i.table_name
       LEFT JOIN LATERAL (
         SELECT sn.nspname, sc.relname
           FROM pg_catalog.pg_class sc JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace
          WHERE c.oid IS NULL AND sc.relkind IN ('r', 'p')
            AND pg_catalog.lower(sn.nspname) = pg_catalog.lower(i.schema_name)
            AND pg_catalog.lower(sc.relname) = pg_catalog.lower(i.table_name)
          LIMIT 1
       ) s ON true
      ORDER BY i.ord`,
    [refs.map((ref) => ref.schema), refs.map((ref) => ref.table)],
  );
  const missing: TableRef[] = [];
  const suggestions = new Map<TableRef, TableRef>();
  for (const row of rows) {
    const ref = refs[Number(row.ord) - 1];
    if (!ref) continue;
    if (row.relkind === null) {
      missing.push(ref);
      if (row.suggestion_schema !== null && row.suggestion_table !== null) {
        suggestions.set(ref, { schema: row.suggestion_schema, table: row.suggestion_table });
      }
    } else if (row.relkind !== "r" && row.relkind !== "p") {
      throw new NotATableError(ref, RELATION_KINDS[row.relkind] ?? `relation of kind ${row.relkind}`);
    }
  }
  if (missing.length > 0) throw new UnknownTableError(missing, suggestions);
}

/** Every ordinary and partitioned table in the given schemas (partitions are covered through their parent). */
export async function listTables(connection: ClientBase, schemas: readonly string[]): Promise<TableRef[]> {
  const { rows } = await connection.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY n.nspname, c.relname`,
    [schemas],
  );
  return rows.map((row) => ({ schema: row.schema, table: row.table }));
}

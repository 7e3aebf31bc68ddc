import { InvalidTableNameError } from "../errors.js";

/** A table as the engine keys it: schema and name exactly as PostgreSQL stores them (unquoted). */
export interface TableRef {
  readonly schema: string;
  readonly table: string;
}

/** What users and adapters may pass: `"users"`, `"audit.log"`, or `{ schema, table }` for names with dots. */
export type TableInput = string | { readonly schema?: string; readonly table: string };

export const DEFAULT_SCHEMA = "public";

/** PostgreSQL's NAMEDATALEN - 1. */
const MAX_IDENTIFIER_BYTES = 63;

function checkIdentifier(name: string, whole: string): void {
  if (name.length === 0) throw new InvalidTableNameError(whole, "empty name");
  if (name.includes("\u0000")) throw new InvalidTableNameError(whole, "contains a NUL byte");
  if (Buffer.byteLength(name, "utf8") > MAX_IDENTIFIER_BYTES) {
    throw new InvalidTableNameError(whole, `longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
}

/**
 * Normalise a table input to a {@link TableRef}. A string is split at its first dot into schema and
 * table (`"audit.log"`); without a dot the schema is `defaultSchema`. Names are taken literally:
 * no case folding, no quote stripping. Use the object form for a name that contains a dot.
 */
export function toTableRef(input: TableInput, defaultSchema = DEFAULT_SCHEMA): TableRef {
  if (typeof input === "string") {
    const dot = input.indexOf(".");
    const ref =
      dot === -1
        ? { schema: defaultSchema, table: input }
        : { schema: input.slice(0, dot), table: input.slice(dot + 1) };
    checkIdentifier(ref.schema, input);
    checkIdentifier(ref.table, input);
    return ref;
  }
  const ref = { schema: input.schema ?? defaultSchema, table: input.table };
  checkIdentifier(ref.schema, `${ref.schema}.${ref.table}`);
  checkIdentifier(ref.table, `${ref.schema}.${ref.table}`);
  return ref;
}

/**
 * The engine's tag for a table. A NUL separator cannot occur in identifiers, so `a.b` + `c` never
 * collides with `a` + `b.c`.
 */
export function tableTag(ref: TableRef): string {
  return `t\u0000${ref.schema}\u0000${ref.table}`;
}

/** Human-readable `schema.table` (for logs, stats and events). */
export function formatTable(ref: TableRef): string {
  return `${ref.schema}.${ref.table}`;
}

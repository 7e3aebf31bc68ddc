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

function describeInput(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "an array";
  if (typeof input === "object") {
    try {
      const text = JSON.stringify(input);
      if (text !== undefined) return text.length > 80 ? `${text.slice(0, 80)}…` : text;
    } catch {
      // cyclic or otherwise unprintable: fall back to its type
    }
    return "an object";
  }
  return `${typeof input} ${String(input).slice(0, 80)}`;
}

function checkObjectInput(input: unknown): void {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidTableNameError(describeInput(input), "expected a string or { schema?, table }", {
      described: true,
    });
  }
  const { schema, table } = input as { schema?: unknown; table?: unknown };
  if (typeof table !== "string") {
    throw new InvalidTableNameError(describeInput(input), "the table field must be a string", {
      described: true,
    });
  }
  if (schema !== undefined && typeof schema !== "string") {
    throw new InvalidTableNameError(describeInput(input), "the schema field must be a string", {
      described: true,
    });
  }
}

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
  // Inputs come from JavaScript callers and ORM metadata too: anything but the two forms is refused by name, not by a TypeError.
  if (typeof input !== "string") checkObjectInput(input);
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

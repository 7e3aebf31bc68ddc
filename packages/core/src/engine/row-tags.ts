import { type TableRef, tableTag } from "../events/table-name.js";
import type { ConstraintValue, RowConstraint } from "./statement-analysis.js";

/**
 * Tags of row-level dependencies. An entry that depends on rows of table T where column c is in
 * V carries, besides no table tag of T:
 *   - `a` T     dropped by an event on T that knows no columns (TRUNCATE, payload v1);
 *   - `c` T c   dropped by an event on T that carries no values for c;
 *   - `r` T c v for each v in V, dropped by an event on T whose values for c include v.
 * NUL cannot occur in identifiers; values come last, so any text is safe in them.
 */
export function anyRowTag(ref: TableRef): string {
  return `a\u0000${ref.schema}\u0000${ref.table}`;
}

/** What a write to any rows of the table drops: its whole-table and every row-level dependent. */
export function tableWideTags(ref: TableRef): string[] {
  return [tableTag(ref), anyRowTag(ref)];
}

export function columnTag(ref: TableRef, column: string): string {
  return `c\u0000${ref.schema}\u0000${ref.table}\u0000${column}`;
}

export function rowTag(ref: TableRef, column: string, value: string): string {
  return `r\u0000${ref.schema}\u0000${ref.table}\u0000${column}\u0000${value}`;
}

/** More values than this in one constraint: the dependency is the whole table. */
export const MAX_CONSTRAINT_VALUES = 64;

/**
 * The values of a constraint bound to the statement's parameters, in PostgreSQL's text form for
 * the column's type, or undefined when a value cannot be bound faithfully (then the whole table).
 */
export function bindConstraint(
  constraint: RowConstraint,
  params: readonly unknown[] | undefined,
): string[] | undefined {
  const values: string[] = [];
  for (const value of constraint.values) {
    if (!bindValue(value, constraint.type, params, values)) return undefined;
    if (values.length > MAX_CONSTRAINT_VALUES) return undefined;
  }
  return values;
}

function bindValue(
  value: ConstraintValue,
  type: RowConstraint["type"],
  params: readonly unknown[] | undefined,
  out: string[],
): boolean {
  if ("literal" in value) {
    const text = canonical(value.literal, type);
    if (text === undefined) return false;
    out.push(text);
    return true;
  }
  if (params === undefined || value.param < 1 || value.param > params.length) return false;
  const bound = params[value.param - 1];
  if (!value.array) {
    const text = canonical(bound, type);
    if (text === undefined) return false;
    out.push(text);
    return true;
  }
  if (!Array.isArray(bound)) return false;
  for (const item of bound) {
    // NULL in an array never equals anything: it selects no row.
    if (item === null) continue;
    const text = canonical(item, type);
    if (text === undefined) return false;
    out.push(text);
  }
  return true;
}

const INTEGER = /^\s*[+-]?\d+\s*$/;
const UUID_HEX = /^[0-9a-f]{32}$/;

/** How PostgreSQL prints `value` as the column's type, or undefined when unsure. */
export function canonical(value: unknown, type: RowConstraint["type"]): string | undefined {
  switch (type) {
    case "int":
      if (typeof value === "number") return Number.isSafeInteger(value) ? String(value) : undefined;
      if (typeof value === "bigint") return value.toString();
      if (typeof value === "string" && INTEGER.test(value)) return BigInt(value.trim()).toString();
      return undefined;
    case "uuid": {
      if (typeof value !== "string") return undefined;
      // PostgreSQL accepts braces, missing hyphens and upper case, and prints 8-4-4-4-12 lower case.
      const hex = value.replace(/[{}-]/g, "").toLowerCase();
      if (!UUID_HEX.test(hex)) return undefined;
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case "text":
      return typeof value === "string" ? value : undefined;
  }
}

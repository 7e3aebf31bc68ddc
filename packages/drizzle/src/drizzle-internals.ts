import { Column, is, SQL, Subquery, Table, type View, ViewBaseConfig } from "drizzle-orm";

// Drizzle keeps these on symbols it marks internal; they are registered with Symbol.for and stable
// across the 0.45 line.
const SchemaSymbol = Symbol.for("drizzle:Schema");
const OriginalNameSymbol = Symbol.for("drizzle:OriginalName");
const IsAliasSymbol = Symbol.for("drizzle:IsAlias");
const NameSymbol = Symbol.for("drizzle:Name");
const ColumnsSymbol = Symbol.for("drizzle:Columns");

type TableInternals = {
  [SchemaSymbol]?: string;
  [OriginalNameSymbol]: string;
  [IsAliasSymbol]?: boolean;
  [NameSymbol]: string;
  [ColumnsSymbol]?: Record<string, unknown>;
};

/** A table's schema as declared (`pgSchema('audit').table(...)`), undefined for plain `pgTable`. */
export function tableSchema(table: Table): string | undefined {
  return (table as unknown as TableInternals)[SchemaSymbol];
}

/** A table's name in the database, also through an alias (`alias(users, 'u')` is still `users`). */
export function tableOriginalName(table: Table): string {
  return (table as unknown as TableInternals)[OriginalNameSymbol];
}

/**
 * Whether a column's table names a real table: plain tables and `alias()` proxies do; the proxies
 * Drizzle puts behind a view's or subquery's selection may carry the view's own name instead.
 */
export function isRealTable(table: Table): boolean {
  const internals = table as unknown as TableInternals;
  if (internals[IsAliasSymbol] !== true) return true;
  return internals[OriginalNameSymbol] !== internals[NameSymbol];
}

export interface ViewConfigInternals {
  readonly name: string;
  readonly originalName: string;
  readonly schema?: string;
  readonly query?: SQL;
}

export function viewConfig(view: View): ViewConfigInternals {
  return (view as unknown as { [ViewBaseConfig]: ViewConfigInternals })[ViewBaseConfig];
}

/**
 * The shape Drizzle maps result rows into, as a string: part of the cache key, because Drizzle renders
 * `select({ a: users.id })` and `select({ b: users.id })` to the same SQL.
 */
export function selectionShape(fields: Record<string, unknown>): string {
  return JSON.stringify(shapeOf(fields));
}

function shapeOf(fields: Record<string, unknown>): unknown[] {
  return Object.entries(fields).map(([key, value]) => {
    if (is(value, Column) || is(value, SQL) || is(value, SQL.Aliased) || is(value, Subquery)) return key;
    if (is(value, Table))
      return [key, Object.keys((value as unknown as TableInternals)[ColumnsSymbol] ?? {})];
    if (typeof value === "object" && value !== null) return [key, shapeOf(value as Record<string, unknown>)];
    return key;
  });
}

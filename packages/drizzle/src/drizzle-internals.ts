import { Column, is, SQL, StringChunk, Subquery, Table } from "drizzle-orm";

// Drizzle keeps these on symbols it marks internal; they are registered with Symbol.for and stable
// across the 0.45 line.
const SchemaSymbol = Symbol.for("drizzle:Schema");
const OriginalNameSymbol = Symbol.for("drizzle:OriginalName");
const ColumnsSymbol = Symbol.for("drizzle:Columns");

type TableInternals = {
  [SchemaSymbol]?: string;
  [OriginalNameSymbol]: string;
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
 * Shapes of tables' own column objects: `db.select().from(t)` hands over the same object every
 * time, and Drizzle never changes it. Other selections are built per query (and a join may add to
 * them in place), so they are walked each time.
 */
const tableShapes = new WeakMap<object, string>();

/**
 * The shape Drizzle maps result rows into, as a string: part of the cache key, because Drizzle renders
 * `select({ a: users.id })` and `select({ b: users.id })` to the same SQL.
 */
export function selectionShape(fields: Record<string, unknown>): string {
  const known = tableShapes.get(fields);
  if (known !== undefined) return known;
  const shape = JSON.stringify(shapeOf(fields));
  if (isTableColumns(fields)) tableShapes.set(fields, shape);
  return shape;
}

function isTableColumns(fields: Record<string, unknown>): boolean {
  for (const key in fields) {
    const first = fields[key];
    if (!is(first, Column)) return false;
    return (first.table as unknown as TableInternals)[ColumnsSymbol] === fields;
  }
  return false;
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

interface RelationSelection {
  readonly tsKey: string;
  readonly selection?: readonly RelationSelection[];
}

/** The nested keys a relational query (`findMany` / `findFirst`) maps its rows into, with its mode. */
export function relationalShape(mode: string, selection: readonly RelationSelection[]): string {
  return `${mode}:${JSON.stringify(relationKeys(selection))}`;
}

function relationKeys(selection: readonly RelationSelection[]): unknown[] {
  return selection.map((item) => (item.selection ? [item.tsKey, relationKeys(item.selection)] : item.tsKey));
}

/**
 * The connection a session's statements run on, for per-connection transaction tracking: the
 * client itself (a pg.Client, a PoolClient held by a transaction, a postgres-js `sql` or `tx`), or
 * undefined for a pg.Pool, which picks a free connection per statement. Pools are told apart as
 * Drizzle's node-postgres session does when it decides whether a transaction must check out a
 * connection of its own.
 */
export function connectionOf(client: unknown): object | undefined {
  // postgres-js clients are functions (`sql`, and the `tx` of a transaction).
  if ((typeof client !== "object" && typeof client !== "function") || client === null) return undefined;
  const name = (Object.getPrototypeOf(client) as { constructor?: { name?: string } } | null)?.constructor
    ?.name;
  return name?.includes("Pool") ? undefined : client;
}

interface WithListInternals {
  readonly config: { readonly withList?: readonly { readonly _: { readonly sql: SQL } }[] };
}

/**
 * Whether a select builder has a CTE made from an insert, update or delete builder
 * (`db.with(db.$with("x").as(db.insert(t)...))`). Such a read writes on every call: it must not
 * share one execution with concurrent callers (single flight), so it is never a cache read. The
 * engine would only learn it writes once it ran. Drizzle renders mutations as
 * `${with}insert into ...`, `update ...`, `delete from ...`; only builders with CTEs pay the check.
 */
export function hasWritingCte(builder: WithListInternals): boolean {
  const withList = builder.config.withList;
  if (withList === undefined || withList.length === 0) return false;
  return withList.some((cte) => startsWithWrite(cte._.sql));
}

function startsWithWrite(query: SQL): boolean {
  for (const chunk of query.queryChunks) {
    if (!is(chunk, StringChunk)) continue;
    const text = chunk.value.join("").trimStart();
    if (text === "") continue;
    return /^(insert|update|delete|merge)\b/i.test(text);
  }
  return false;
}

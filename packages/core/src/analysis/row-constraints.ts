/**
 * Row constraints of a SELECT, from its parse tree alone: for a table the statement reads, a
 * column and the values that every row of that table the result depends on must have. Only
 * what is sound is taken; anything else leaves the table depending on all its rows:
 *
 * - conjuncts of the top-level WHERE and of INNER JOIN ON clauses (never under OR, NOT or CASE;
 *   HAVING filters groups, not rows, and is not used);
 * - `col = value`, `col IN (values)`, `col = ANY($n)` / `= ANY(ARRAY[...])`, where the column
 *   side is a bare column (a cast or a COLLATE on it is not an equality by value) and the value
 *   side a literal or a parameter; `col = NULL` selects nothing and gives nothing;
 * - equalities between columns join their classes (`u.id = p.author_id AND p.author_id = $1`
 *   constrains u.id too);
 * - an ON conjunct of a LEFT JOIN filters only its nullable side: it constrains a nullable
 *   column by a value, or by the class of a preserved column, never a preserved column;
 * - RIGHT and FULL joins, set operations and WITH give no constraint at all;
 * - a table named more than once anywhere in the statement (a self-join, a subquery, a
 *   correlated subquery) gets none: its other occurrences are not filtered the same way.
 *
 * Aggregates, DISTINCT, ORDER BY, LIMIT/OFFSET and window functions run over the filtered rows,
 * so they keep the constraints; a LIMIT over an unconstrained table leaves it whole.
 */

import type { ConstraintValue } from "../engine/statement-analysis.js";

/** A table as it occurs in the top-level FROM clause. */
export interface TableOccurrence {
  readonly schema: string | undefined;
  readonly name: string;
  /** False for `ONLY t`. */
  readonly inh: boolean;
}

export interface CandidateConstraint {
  readonly occurrence: TableOccurrence;
  readonly column: string;
  readonly values: readonly ConstraintValue[];
}

type Node = Record<string, unknown>;

function asNode(value: unknown): Node | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

function asList(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function field(value: unknown, type: string): Node | undefined {
  return asNode(asNode(value)?.[type]);
}

function strings(list: unknown): string[] | undefined {
  const out: string[] = [];
  for (const item of asList(list)) {
    const text = field(item, "String")?.sval;
    if (typeof text !== "string") return undefined;
    out.push(text);
  }
  return out;
}

export interface Occurrence extends TableOccurrence {
  /** The name columns are qualified with: the alias, else the table name. */
  readonly qualifier: string;
  /** Under the right side of a LEFT JOIN. */
  readonly nullable: boolean;
}

/** Column reference as (occurrence index, column), or undefined when it cannot be placed. */
export type Column = { readonly occurrence: number; readonly column: string };

export interface Scope {
  readonly occurrences: Occurrence[];
  /** Every other FROM item (subqueries, functions): an unqualified column may belong to one. */
  otherItems: number;
}

/** The constraints of one statement's parse tree (`{ SelectStmt: ... }`). */
export function rowConstraintCandidates(stmt: unknown): CandidateConstraint[] {
  const select = field(stmt, "SelectStmt");
  if (select === undefined) return [];
  if (select.op !== undefined && select.op !== "SETOP_NONE") return [];
  if (select.withClause !== undefined) return [];
  const scope: Scope = { occurrences: [], otherItems: 0 };
  const filters: Node[] = [];
  const leftOn: { quals: unknown; nullableFrom: number; nullableTo: number }[] = [];
  for (const item of asList(select.fromClause)) {
    if (!collectFrom(item, false, scope, filters, leftOn)) return [];
  }
  if (scope.occurrences.length === 0) return [];
  for (const conjunct of conjuncts(select.whereClause)) filters.push(conjunct);

  const counts = relationCounts(stmt);
  const classes = new ColumnClasses();
  for (const conjunct of filters) applyConjunct(conjunct, scope, classes);
  // LEFT JOIN ON: values flow into the nullable side only.
  const directed = new Map<string, ConstraintValue[]>();
  for (const join of leftOn) {
    for (const conjunct of conjuncts(join.quals)) {
      applyDirected(conjunct, scope, classes, join.nullableFrom, join.nullableTo, directed);
    }
  }

  const out: CandidateConstraint[] = [];
  scope.occurrences.forEach((occurrence, index) => {
    if ((counts.get(occurrence.name) ?? 0) !== 1) return;
    const seen = new Set<string>();
    for (const [column, values] of classes.valuesOf(index)) {
      seen.add(column);
      out.push({ occurrence: stripped(occurrence), column, values });
    }
    for (const [key, values] of directed) {
      const [at, column] = splitColumnKey(key);
      if (at !== index || seen.has(column)) continue;
      out.push({ occurrence: stripped(occurrence), column, values });
    }
  });
  return out;
}

function stripped(occurrence: Occurrence): TableOccurrence {
  return { schema: occurrence.schema, name: occurrence.name, inh: occurrence.inh };
}

/** Walk a FROM item; false when the statement must give no constraint at all. */
function collectFrom(
  item: unknown,
  nullable: boolean,
  scope: Scope,
  filters: Node[],
  leftOn: { quals: unknown; nullableFrom: number; nullableTo: number }[],
): boolean {
  const range = field(item, "RangeVar");
  if (range !== undefined) {
    if (typeof range.relname !== "string") return false;
    const alias = field(range, "alias")?.aliasname;
    scope.occurrences.push({
      schema: typeof range.schemaname === "string" ? range.schemaname : undefined,
      name: range.relname,
      inh: range.inh !== false,
      qualifier: typeof alias === "string" ? alias : range.relname,
      nullable,
    });
    // A column alias list renames the columns: references by the new names would be misread.
    if (asList(field(range, "alias")?.colnames).length > 0) return false;
    return true;
  }
  const join = field(item, "JoinExpr");
  if (join === undefined) {
    scope.otherItems++;
    return true;
  }
  const kind = join.jointype ?? "JOIN_INNER";
  if (join.isNatural === true || asList(join.usingClause).length > 0) {
    // USING/NATURAL merge columns under one name: leave their conditions out, keep the tables.
    if (kind !== "JOIN_INNER" && kind !== "JOIN_LEFT") return false;
    return (
      collectFrom(join.larg, nullable, scope, filters, leftOn) &&
      collectFrom(join.rarg, nullable || kind === "JOIN_LEFT", scope, filters, leftOn)
    );
  }
  if (kind === "JOIN_INNER") {
    if (!collectFrom(join.larg, nullable, scope, filters, leftOn)) return false;
    if (!collectFrom(join.rarg, nullable, scope, filters, leftOn)) return false;
    // Inside a nullable subtree an inner ON still filters that subtree's own rows.
    for (const conjunct of conjuncts(join.quals)) filters.push(conjunct);
    return true;
  }
  if (kind === "JOIN_LEFT") {
    if (!collectFrom(join.larg, nullable, scope, filters, leftOn)) return false;
    const from = scope.occurrences.length;
    if (!collectFrom(join.rarg, true, scope, filters, leftOn)) return false;
    leftOn.push({ quals: join.quals, nullableFrom: from, nullableTo: scope.occurrences.length });
    return true;
  }
  return false;
}

/** The top-level AND conjuncts of an expression (the expression itself when it is no AND). */
export function conjuncts(expression: unknown): Node[] {
  const node = asNode(expression);
  if (node === undefined) return [];
  const bool = field(node, "BoolExpr");
  if (bool !== undefined && bool.boolop === "AND_EXPR") return asList(bool.args).flatMap(conjuncts);
  return [node];
}

function isEquals(name: unknown): boolean {
  const parts = strings(name);
  if (parts === undefined) return false;
  return (
    (parts.length === 1 && parts[0] === "=") ||
    (parts.length === 2 && parts[0] === "pg_catalog" && parts[1] === "=")
  );
}

export function columnOf(expression: unknown, scope: Scope): Column | undefined {
  const ref = field(expression, "ColumnRef");
  if (ref === undefined) return undefined;
  const parts = strings(ref.fields);
  if (parts === undefined || parts.length === 0) return undefined;
  if (parts.length === 1) {
    // Unqualified: only when a single table is in scope and nothing else could own the column.
    if (scope.occurrences.length !== 1 || scope.otherItems > 0) return undefined;
    return { occurrence: 0, column: parts[0] as string };
  }
  const column = parts[parts.length - 1] as string;
  const qualifier = parts[parts.length - 2] as string;
  const schema = parts.length >= 3 ? parts[parts.length - 3] : undefined;
  const matches: number[] = [];
  scope.occurrences.forEach((occurrence, index) => {
    if (occurrence.qualifier !== qualifier) return;
    if (schema !== undefined && (occurrence.qualifier !== occurrence.name || occurrence.schema !== schema))
      return;
    matches.push(index);
  });
  // Qualifiers are unique within one FROM clause (PostgreSQL refuses a repeated one).
  return matches.length === 1 ? { occurrence: matches[0] as number, column } : undefined;
}

/** A literal or parameter on the value side; a cast of it is still the same value. */
export function constantOf(expression: unknown): ConstraintValue | undefined {
  const node = asNode(expression);
  if (node === undefined) return undefined;
  const cast = field(node, "TypeCast");
  if (cast !== undefined) return constantOf(cast.arg);
  const param = field(node, "ParamRef");
  if (param !== undefined) return typeof param.number === "number" ? { param: param.number } : undefined;
  const constant = field(node, "A_Const");
  if (constant === undefined || constant.isnull === true) return undefined;
  const integer = asNode(constant.ival);
  if (integer !== undefined) return { literal: String(typeof integer.ival === "number" ? integer.ival : 0) };
  const text = asNode(constant.sval);
  if (text !== undefined) return { literal: typeof text.sval === "string" ? text.sval : "" };
  const float = asNode(constant.fval);
  if (float !== undefined && typeof float.fval === "string") return { literal: float.fval };
  return undefined;
}

/** `col = value`, `value = col`, `col IN (...)`, `col = ANY(...)` as (column, values); `col = col` as a pair. */
export function equality(
  conjunct: Node,
  scope: Scope,
): { column: Column; values: ConstraintValue[] } | { pair: [Column, Column] } | undefined {
  const expr = field(conjunct, "A_Expr");
  if (expr === undefined || !isEquals(expr.name)) return undefined;
  if (expr.kind === "AEXPR_OP") {
    const left = columnOf(expr.lexpr, scope);
    const right = columnOf(expr.rexpr, scope);
    if (left && right) return { pair: [left, right] };
    if (left) {
      const value = constantOf(expr.rexpr);
      return value ? { column: left, values: [value] } : undefined;
    }
    if (right) {
      const value = constantOf(expr.lexpr);
      return value ? { column: right, values: [value] } : undefined;
    }
    return undefined;
  }
  if (expr.kind === "AEXPR_IN") {
    const column = columnOf(expr.lexpr, scope);
    if (!column) return undefined;
    const values: ConstraintValue[] = [];
    for (const item of asList(field(expr.rexpr, "List")?.items)) {
      const value = constantOf(item);
      // A NULL in the list matches nothing; anything else unreadable gives up.
      if (value === undefined) {
        if (field(item, "A_Const")?.isnull === true) continue;
        return undefined;
      }
      values.push(value);
    }
    return { column, values };
  }
  if (expr.kind === "AEXPR_OP_ANY") {
    const column = columnOf(expr.lexpr, scope);
    if (!column) return undefined;
    const param = field(expr.rexpr, "ParamRef");
    if (param !== undefined) {
      return typeof param.number === "number"
        ? { column, values: [{ param: param.number, array: true }] }
        : undefined;
    }
    const array = field(expr.rexpr, "A_ArrayExpr");
    if (array === undefined) return undefined;
    const values: ConstraintValue[] = [];
    for (const element of asList(array.elements)) {
      const value = constantOf(element);
      if (value === undefined) return undefined;
      values.push(value);
    }
    return { column, values };
  }
  return undefined;
}

function applyConjunct(conjunct: Node, scope: Scope, classes: ColumnClasses): void {
  const found = equality(conjunct, scope);
  if (found === undefined) return;
  if ("pair" in found) classes.union(found.pair[0], found.pair[1]);
  else classes.constrain(found.column, found.values);
}

function applyDirected(
  conjunct: Node,
  scope: Scope,
  classes: ColumnClasses,
  from: number,
  to: number,
  directed: Map<string, ConstraintValue[]>,
): void {
  const found = equality(conjunct, scope);
  if (found === undefined) return;
  const nullable = (column: Column) => column.occurrence >= from && column.occurrence < to;
  if (!("pair" in found)) {
    if (nullable(found.column)) addDirected(directed, found.column, found.values);
    return;
  }
  const [a, b] = found.pair;
  if (nullable(a) && !nullable(b)) {
    const values = classes.valuesOfColumn(b);
    if (values) addDirected(directed, a, values);
  } else if (nullable(b) && !nullable(a)) {
    const values = classes.valuesOfColumn(a);
    if (values) addDirected(directed, b, values);
  }
}

function addDirected(
  directed: Map<string, ConstraintValue[]>,
  column: Column,
  values: readonly ConstraintValue[],
): void {
  const key = columnKey(column);
  if (!directed.has(key)) directed.set(key, [...values]);
}

function columnKey(column: Column): string {
  return `${column.occurrence}\u0000${column.column}`;
}

function splitColumnKey(key: string): [number, string] {
  const at = key.indexOf("\u0000");
  return [Number(key.slice(0, at)), key.slice(at + 1)];
}

/** Equivalence classes of columns (union-find), each with the first value set it was constrained to. */
class ColumnClasses {
  readonly #parent = new Map<string, string>();
  readonly #values = new Map<string, ConstraintValue[]>();

  #find(key: string): string {
    let root = key;
    for (
      let next = this.#parent.get(root);
      next !== undefined && next !== root;
      next = this.#parent.get(root)
    ) {
      root = next;
    }
    if (!this.#parent.has(key)) this.#parent.set(key, key);
    return root;
  }

  union(a: Column, b: Column): void {
    const ra = this.#find(columnKey(a));
    const rb = this.#find(columnKey(b));
    if (ra === rb) return;
    this.#parent.set(rb, ra);
    // Both constrained: either set is sound (the rows satisfy both); keep one.
    const moved = this.#values.get(rb);
    if (moved !== undefined && !this.#values.has(ra)) this.#values.set(ra, moved);
    this.#values.delete(rb);
  }

  constrain(column: Column, values: readonly ConstraintValue[]): void {
    const root = this.#find(columnKey(column));
    if (!this.#values.has(root)) this.#values.set(root, [...values]);
  }

  valuesOfColumn(column: Column): ConstraintValue[] | undefined {
    const key = columnKey(column);
    if (!this.#parent.has(key)) return undefined;
    return this.#values.get(this.#find(key));
  }

  /** Every constrained column of one occurrence, with its class's values. */
  valuesOf(occurrence: number): [string, ConstraintValue[]][] {
    const out: [string, ConstraintValue[]][] = [];
    for (const key of this.#parent.keys()) {
      const [at, column] = splitColumnKey(key);
      if (at !== occurrence) continue;
      const values = this.#values.get(this.#find(key));
      if (values !== undefined) out.push([column, values]);
    }
    return out;
  }
}

/**
 * How often each relation name occurs anywhere in the statement (FROM items, subqueries, CTE
 * bodies), by its bare name: `s.t` and `t` may be the same table, so they count together.
 */
function relationCounts(stmt: unknown): Map<string, number> {
  const counts = new Map<string, number>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    const node = asNode(value);
    if (node === undefined) return;
    const range = field(node, "RangeVar");
    if (range !== undefined && typeof range.relname === "string") {
      counts.set(range.relname, (counts.get(range.relname) ?? 0) + 1);
    }
    for (const child of Object.values(node)) visit(child);
  };
  visit(stmt);
  return counts;
}

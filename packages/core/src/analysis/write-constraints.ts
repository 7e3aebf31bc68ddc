/**
 * What an INSERT, UPDATE or DELETE says about the rows it changes, from its parse tree alone
 * (read-your-writes per row). For each column of the target: the values its rows had before
 * (the WHERE's top-level equality conjuncts, as for reads: `col = value`, `IN (...)`,
 * `= ANY($n)`), the values they have after (a constant in SET, the VALUES lists), whether SET
 * assigns it, and under which name RETURNING hands it back. The catalog decides later which
 * columns count (see resolve-dependencies.ts); the engine binds the values and reads the
 * returned rows.
 *
 * Only what is sound is taken. A value side must be a parameter or a literal, cast at most to a
 * type without modifiers (`'abc'::varchar(2)` stores 'ab'). The whole table is named instead
 * when the rows changed are not the target's own filtered rows: UPDATE ... FROM, DELETE ...
 * USING, a WITH clause, INSERT ... ON CONFLICT DO UPDATE (it updates rows the text does not
 * name), MERGE.
 */

import type { ConstraintValue } from "../engine/statement-analysis.js";
import {
  type Column,
  columnOf,
  conjuncts,
  equality,
  type Occurrence,
  type Scope,
  type TableOccurrence,
} from "./row-constraints.js";

export interface CandidateWriteColumn {
  readonly column: string;
  /** Values every changed row had in this column before the write (UPDATE, DELETE). */
  readonly old?: readonly ConstraintValue[];
  /** Values every changed row has after the write (UPDATE SET, INSERT VALUES); undefined: not constant. */
  readonly new?: readonly ConstraintValue[];
  /** UPDATE assigns the column (its new values may differ from its old ones). */
  readonly assigned: boolean;
}

export interface WriteCandidate {
  readonly target: TableOccurrence;
  readonly kind: "insert" | "update" | "delete";
  /** Why the statement can name only the whole table. */
  readonly tableWide?: string;
  readonly columns: readonly CandidateWriteColumn[];
  /** RETURNING outputs that are bare columns of the target: output name and column. */
  readonly returning: readonly { readonly name: string; readonly column: string }[];
  /** `RETURNING *` alone: every column under its own name. */
  readonly returningAll: boolean;
  /** UPDATE: SET assigns a column the analysis could not name (a multi-column assignment it cannot read). */
  readonly assignsUnknown?: true;
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

const KINDS = { InsertStmt: "insert", UpdateStmt: "update", DeleteStmt: "delete" } as const;

/** The write candidate of one parsed statement (`{ UpdateStmt: ... }`), or undefined for anything else. */
export function writeCandidate(stmt: unknown): WriteCandidate | undefined {
  for (const [type, kind] of Object.entries(KINDS)) {
    const body = field(stmt, type);
    if (body !== undefined) return candidate(body, kind);
  }
  return undefined;
}

function candidate(body: Node, kind: WriteCandidate["kind"]): WriteCandidate | undefined {
  const relation = field(body, "relation");
  if (relation === undefined || typeof relation.relname !== "string") return undefined;
  const alias = field(relation, "alias")?.aliasname;
  const occurrence: Occurrence = {
    schema: typeof relation.schemaname === "string" ? relation.schemaname : undefined,
    name: relation.relname,
    inh: relation.inh !== false,
    qualifier: typeof alias === "string" ? alias : relation.relname,
    nullable: false,
  };
  const target: TableOccurrence = { schema: occurrence.schema, name: occurrence.name, inh: occurrence.inh };
  const base = { target, kind, columns: [], returning: [], returningAll: false };
  const tableWide = tableWideReason(body, kind);
  if (tableWide !== undefined) return { ...base, tableWide };
  const scope: Scope = { occurrences: [occurrence], otherItems: 0 };
  const { returning, returningAll } = returningOf(body, scope);
  const columns = new Map<string, { old?: ConstraintValue[]; new?: ConstraintValue[]; assigned: boolean }>();
  const entry = (column: string) => {
    let found = columns.get(column);
    if (found === undefined) {
      found = { assigned: false };
      columns.set(column, found);
    }
    return found;
  };
  let assignsUnknown = false;
  if (kind !== "insert") {
    for (const conjunct of conjuncts(body.whereClause)) {
      const found = equality(conjunct, scope);
      if (found === undefined || "pair" in found) continue;
      const column = entry(found.column.column);
      // Several conjuncts on one column: the rows satisfy each, so any one of them is sound.
      column.old ??= [...found.values];
    }
  }
  if (kind === "update") {
    for (const item of asList(body.targetList)) {
      const target = field(item, "ResTarget");
      if (target === undefined || typeof target.name !== "string") {
        assignsUnknown = true;
        continue;
      }
      const column = entry(target.name);
      column.assigned = true;
      // `SET arr[1] = ...`, `SET comp.f = ...`: the column changes, to a value not given whole.
      const value = asList(target.indirection).length > 0 ? undefined : writeValue(target.val);
      if (value === undefined) delete column.new;
      else column.new = value === "null" ? [] : [value];
    }
  }
  if (kind === "insert") insertValues(body, entry);
  return {
    ...base,
    columns: [...columns].map(([column, c]) => ({
      column,
      assigned: c.assigned,
      ...(c.old === undefined ? {} : { old: c.old }),
      ...(c.new === undefined ? {} : { new: c.new }),
    })),
    returning,
    returningAll,
    ...(assignsUnknown ? { assignsUnknown: true as const } : {}),
  };
}

function tableWideReason(body: Node, kind: WriteCandidate["kind"]): string | undefined {
  if (body.withClause !== undefined) return "a WITH clause";
  if (kind === "update" && asList(body.fromClause).length > 0) return "UPDATE ... FROM";
  if (kind === "delete" && asList(body.usingClause).length > 0) return "DELETE ... USING";
  const conflict = field(body, "onConflictClause");
  if (conflict !== undefined && conflict.action !== "ONCONFLICT_NOTHING") return "ON CONFLICT DO UPDATE";
  return undefined;
}

/** INSERT: each listed column's values over all VALUES rows, when every row gives a constant. */
function insertValues(
  body: Node,
  entry: (column: string) => { new?: ConstraintValue[]; assigned: boolean },
): void {
  const names: string[] = [];
  for (const item of asList(body.cols)) {
    const target = field(item, "ResTarget");
    // `INSERT INTO t (comp.f)`: not a whole column.
    if (target === undefined || typeof target.name !== "string" || asList(target.indirection).length > 0)
      return;
    names.push(target.name);
  }
  // Without a column list the values follow the table's column order, which the text does not give.
  if (names.length === 0) return;
  const select = field(body.selectStmt, "SelectStmt");
  const rows = asList(select?.valuesLists);
  if (select === undefined || rows.length === 0) return;
  const perColumn: (ConstraintValue[] | undefined)[] = names.map(() => []);
  for (const row of rows) {
    const items = asList(field(row, "List")?.items);
    if (items.length !== names.length) return;
    items.forEach((item, index) => {
      const values = perColumn[index];
      if (values === undefined) return;
      const value = writeValue(item);
      if (value === undefined) perColumn[index] = undefined;
      // NULL equals nothing: no read constrained by value can contain the row through this column.
      else if (value !== "null") values.push(value);
    });
  }
  names.forEach((name, index) => {
    const values = perColumn[index];
    if (values !== undefined) entry(name).new = values;
  });
}

/** A value assigned as it is: a parameter or a literal, cast at most to a type without modifiers; "null" for NULL. */
function writeValue(expression: unknown): ConstraintValue | "null" | undefined {
  const node = asNode(expression);
  if (node === undefined) return undefined;
  const cast = field(node, "TypeCast");
  if (cast !== undefined) {
    // A type modifier may change the value on the way (char(n), varchar(n), numeric(p, s)).
    if (asList(field(cast, "typeName")?.typmods).length > 0) return undefined;
    if (asList(field(cast, "typeName")?.arrayBounds).length > 0) return undefined;
    return writeValue(cast.arg);
  }
  const param = field(node, "ParamRef");
  if (param !== undefined) return typeof param.number === "number" ? { param: param.number } : undefined;
  const constant = field(node, "A_Const");
  if (constant === undefined) return undefined;
  if (constant.isnull === true) return "null";
  const integer = asNode(constant.ival);
  if (integer !== undefined) return { literal: String(typeof integer.ival === "number" ? integer.ival : 0) };
  const text = asNode(constant.sval);
  if (text !== undefined) return { literal: typeof text.sval === "string" ? text.sval : "" };
  const float = asNode(constant.fval);
  if (float !== undefined && typeof float.fval === "string") return { literal: float.fval };
  return undefined;
}

/** RETURNING targets that are bare columns of the target, by output name (a repeated name is left out). */
function returningOf(
  body: Node,
  scope: Scope,
): { returning: { name: string; column: string }[]; returningAll: boolean } {
  const list = asList(asNode(body.returningClause)?.exprs ?? body.returningList);
  const outputs: { name: string | undefined; column: string | undefined }[] = [];
  let star = false;
  for (const item of list) {
    const target = field(item, "ResTarget");
    const ref = field(target?.val, "ColumnRef");
    const fields = asList(ref?.fields);
    const last = fields[fields.length - 1];
    if (ref !== undefined && field(last, "A_Star") !== undefined) {
      star = true;
      outputs.push({ name: undefined, column: undefined });
      continue;
    }
    const column: Column | undefined = ref === undefined ? undefined : columnOf(target?.val, scope);
    const name =
      typeof target?.name === "string" ? target.name : column === undefined ? undefined : column.column;
    outputs.push({ name, column: column?.column });
  }
  if (star) return { returning: [], returningAll: list.length === 1 };
  const counts = new Map<string | undefined, number>();
  for (const output of outputs) counts.set(output.name, (counts.get(output.name) ?? 0) + 1);
  const returning: { name: string; column: string }[] = [];
  // An output without a name the analysis can tell (an expression) may carry any name: then none is trusted.
  if (counts.has(undefined)) return { returning, returningAll: false };
  for (const output of outputs) {
    if (output.name !== undefined && output.column !== undefined && counts.get(output.name) === 1) {
      returning.push({ name: output.name, column: output.column });
    }
  }
  return { returning, returningAll: false };
}

/**
 * Per-shape row copiers. Rows of one query share one shape (the same keys in the same order), so
 * instead of inspecting each value, a copier is built once per shape: an object literal with those
 * keys, which V8 allocates from one template, and per field only the handling the fill copier saw
 * that field need. Copiers are cached in a bounded map, so an app with many queries keeps at most
 * MAX_SHAPES of them.
 */

import { deepFreeze, deepFreezeBelow } from "./deep-freeze.js";
import { frozenDate } from "./frozen-builtins.js";
import { treeCopy } from "./tree-copy.js";

/**
 * What a field held in every row of a stored array (the stored copy never changes, so this holds
 * for every hit), a primitive always allowed: p primitives only; d a Date; a an array of
 * primitives; f a plain object of primitives (keys varying); { row } a plain object of one shape,
 * copied by that shape's copier; { rows } an array of rows of one shape (an ORM's nested relation);
 * g anything else (the generic tree copy).
 */
export type FieldKind = "p" | "d" | "a" | "f" | "g" | { row: RowCopier } | { rows: RowCopier };

export interface RowCopier {
  /** Distinct per built copier: part of the cache key of copiers that nest it. */
  readonly id: number;
  /** Copy one row of this shape. */
  row: (row: Record<string, unknown>) => Record<string, unknown>;
  /** Copy an array whose every element is a row of this shape. */
  rows: (rows: readonly Record<string, unknown>[]) => Record<string, unknown>[];
  /**
   * Freeze mode: the same copy with everything below its top level frozen (Dates as FrozenDate),
   * the top level left open so a plan can be attached before it is frozen too.
   */
  rowFrozenBelow: (row: Record<string, unknown>) => Record<string, unknown>;
  rowsFrozenBelow: (rows: readonly Record<string, unknown>[]) => Record<string, unknown>[];
}

const MAX_SHAPES = 256;
/** Wider rows are copied by the generic tree copy (a generated literal that wide gains little). */
export const MAX_SHAPE_KEYS = 256;

const copiers = new Map<string, RowCopier>();
let nextId = 1;
/** The last few lookups, so refilling a query's shapes (a row and its nested rows) skips building the cache key. */
const RECENT = 8;
const recent: { keys: readonly string[]; kinds: readonly FieldKind[]; copier: RowCopier }[] = [];

/** Whether code generation is allowed here (a Content-Security-Policy or an edge runtime may forbid it). */
const canGenerate = (() => {
  try {
    return new Function("return 1")() === 1;
  } catch {
    return false;
  }
})();

/** The copier for rows with these keys (in this order) and field kinds, built on first use. */
export function rowCopierFor(keys: readonly string[], kinds: readonly FieldKind[]): RowCopier | undefined {
  if (keys.length > MAX_SHAPE_KEYS) return undefined;
  for (const seen of recent) if (sameShape(seen.keys, seen.kinds, keys, kinds)) return seen.copier;
  const id = `${kinds.map(kindId).join(",")}:${JSON.stringify(keys)}`;
  let copier = copiers.get(id);
  if (copier === undefined) {
    copier = canGenerate ? generatedCopier(keys, kinds) : closureCopier(keys, kinds);
    if (copiers.size >= MAX_SHAPES) {
      const oldest = copiers.keys().next();
      if (!oldest.done) copiers.delete(oldest.value);
    }
    copiers.set(id, copier);
  }
  if (recent.length >= RECENT) recent.pop();
  recent.unshift({ keys, kinds, copier });
  return copier;
}

function kindId(kind: FieldKind): string {
  return typeof kind === "string" ? kind : "row" in kind ? `o${kind.row.id}` : `r${kind.rows.id}`;
}

function sameShape(
  keysA: readonly string[],
  kindsA: readonly FieldKind[],
  keysB: readonly string[],
  kindsB: readonly FieldKind[],
): boolean {
  if (keysA.length !== keysB.length) return false;
  for (let i = 0; i < keysA.length; i++) {
    if (keysA[i] !== keysB[i]) return false;
    const a = kindsA[i] as FieldKind;
    const b = kindsB[i] as FieldKind;
    if (a !== b && (typeof a === "string" || typeof b === "string" || kindId(a) !== kindId(b))) return false;
  }
  return true;
}

/** How many shapes have a cached copier (for tests of the bound). */
export function cachedShapeCount(): number {
  return copiers.size;
}

/**
 * A copier generated as source. Keys enter the source only through JSON.stringify, which makes
 * each a valid, inert string literal; "__proto__" is written as a computed key, since a literal
 * `"__proto__": v` would set the copy's prototype instead of a field.
 */
function generatedCopier(keys: readonly string[], kinds: readonly FieldKind[]): RowCopier {
  const reads: string[] = [];
  const fields: string[] = [];
  const frozenFields: string[] = [];
  const nested: RowCopier[] = [];
  keys.forEach((key, i) => {
    const literal = JSON.stringify(key);
    const name = key === "__proto__" ? `[${literal}]` : literal;
    const kind = kinds[i] ?? "g";
    if (kind === "p") {
      fields.push(`${name}: r[${literal}]`);
      frozenFields.push(`${name}: r[${literal}]`);
      return;
    }
    const v = `v${i}`;
    reads.push(`var ${v} = r[${literal}];`);
    const object = `typeof ${v} === "object" && ${v} !== null`;
    let copy: string;
    let frozen: string;
    if (typeof kind !== "string") {
      const n = `N[${nested.push("row" in kind ? kind.row : kind.rows) - 1}]`;
      const method = "row" in kind ? "row" : "rows";
      copy = `${n}.${method}(${v})`;
      frozen = `F(${n}.${method}FrozenBelow(${v}))`;
    } else if (kind === "d") {
      copy = `new D(${v}.getTime())`;
      frozen = `FD(${v}.getTime())`;
    } else if (kind === "a") {
      copy = `${v}.slice()`;
      frozen = `F(${v}.slice())`;
    } else if (kind === "f") {
      copy = `{ ...${v} }`;
      frozen = `F(A({}, ${v}))`;
    } else {
      copy = `t(${v})`;
      frozen = `DF(t(${v}))`;
    }
    fields.push(`${name}: ${object} ? ${copy} : ${v}`);
    frozenFields.push(`${name}: ${object} ? ${frozen} : ${v}`);
  });
  const source = `"use strict";
function row(r) {
  ${reads.join("\n  ")}
  return { ${fields.join(", ")} };
}
function rows(a) {
  var n = a.length, out = new Array(n);
  for (var i = 0; i < n; i++) out[i] = row(a[i]);
  return out;
}
function rowFrozenBelow(r) {
  ${reads.join("\n  ")}
  return { ${frozenFields.join(", ")} };
}
function rowsFrozenBelow(a) {
  var n = a.length, out = new Array(n);
  for (var i = 0; i < n; i++) out[i] = F(rowFrozenBelow(a[i]));
  return out;
}
return { id: ID, row: row, rows: rows, rowFrozenBelow: rowFrozenBelow, rowsFrozenBelow: rowsFrozenBelow };`;
  const build = new Function("D", "t", "N", "ID", "F", "FD", "A", "DF", source);
  return build(
    Date,
    treeCopy,
    nested,
    nextId++,
    Object.freeze,
    frozenDate,
    Object.assign,
    deepFreeze,
  ) as RowCopier;
}

/** The same without code generation: spread the row, then copy the fields that may hold objects. */
function closureCopier(keys: readonly string[], kinds: readonly FieldKind[]): RowCopier {
  const nested: { key: string; copy: (value: object) => unknown }[] = [];
  keys.forEach((key, i) => {
    const kind = kinds[i] ?? "g";
    if (kind === "p") return;
    const copy =
      typeof kind !== "string"
        ? (("row" in kind ? kind.row.row : kind.rows.rows) as (value: object) => unknown)
        : kind === "d"
          ? (value: object) => new Date((value as Date).getTime())
          : kind === "a"
            ? (value: object) => (value as unknown[]).slice()
            : kind === "f"
              ? (value: object) => ({ ...value })
              : treeCopy;
    nested.push({ key, copy });
  });
  const row = (source: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...source };
    for (const { key, copy } of nested) {
      const value = out[key];
      if (typeof value === "object" && value !== null) out[key] = copy(value);
    }
    return out;
  };
  const rows = (source: readonly Record<string, unknown>[]): Record<string, unknown>[] => {
    const out = new Array<Record<string, unknown>>(source.length);
    for (let i = 0; i < source.length; i++) out[i] = row(source[i] as Record<string, unknown>);
    return out;
  };
  // Frozen variants: a copy, deep-frozen below its top level (slower than generated literals).
  return {
    id: nextId++,
    row,
    rows,
    rowFrozenBelow: (source) => deepFreezeBelow(row(source)),
    rowsFrozenBelow: (source) => deepFreezeBelow(rows(source)),
  };
}

/** For the bench and tests: the closure variant regardless of whether code generation works. */
export function closureCopierFor(keys: readonly string[], kinds: readonly FieldKind[]): RowCopier {
  return closureCopier(keys, kinds);
}

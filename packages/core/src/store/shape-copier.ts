/**
 * Per-shape row copiers. Rows of one query share one shape (the same keys in the same order), so
 * instead of inspecting each value, a copier is built once per shape: an object literal with those
 * keys, which V8 allocates from one template, and per field only the handling the fill copier saw
 * that field need. Copiers are cached in a bounded map, so an app with many queries keeps at most
 * MAX_SHAPES of them.
 */

import { treeCopy } from "./tree-copy.js";

/**
 * What a field held in every row of a stored array (the stored copy never changes, so this holds
 * for every hit): p primitives only; d a Date or a primitive; a an array of primitives or a
 * primitive; f a plain object of primitives or a primitive; g anything else.
 */
export type FieldKind = "p" | "d" | "a" | "f" | "g";

export interface RowCopier {
  /** Copy one row of this shape. */
  row: (row: Record<string, unknown>) => Record<string, unknown>;
  /** Copy an array whose every element is a row of this shape. */
  rows: (rows: readonly Record<string, unknown>[]) => Record<string, unknown>[];
}

const MAX_SHAPES = 256;
/** Wider rows are copied by the generic tree copy (a generated literal that wide gains little). */
export const MAX_SHAPE_KEYS = 256;

const copiers = new Map<string, RowCopier>();

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
  const id = `${kinds.join("")}:${JSON.stringify(keys)}`;
  let copier = copiers.get(id);
  if (copier === undefined) {
    copier = canGenerate ? generatedCopier(keys, kinds) : closureCopier(keys, kinds);
    if (copiers.size >= MAX_SHAPES) {
      const oldest = copiers.keys().next();
      if (!oldest.done) copiers.delete(oldest.value);
    }
    copiers.set(id, copier);
  }
  return copier;
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
  keys.forEach((key, i) => {
    const literal = JSON.stringify(key);
    const name = key === "__proto__" ? `[${literal}]` : literal;
    const kind = kinds[i] ?? "g";
    if (kind === "p") {
      fields.push(`${name}: r[${literal}]`);
      return;
    }
    const v = `v${i}`;
    reads.push(`var ${v} = r[${literal}];`);
    const object = `typeof ${v} === "object" && ${v} !== null`;
    const copy =
      kind === "d"
        ? `new D(${v}.getTime())`
        : kind === "a"
          ? `${v}.slice()`
          : kind === "f"
            ? `{ ...${v} }`
            : `t(${v})`;
    fields.push(`${name}: ${object} ? ${copy} : ${v}`);
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
return { row: row, rows: rows };`;
  return new Function("D", "t", source)(Date, treeCopy) as RowCopier;
}

/** The same without code generation: spread the row, then copy the fields that may hold objects. */
function closureCopier(keys: readonly string[], kinds: readonly FieldKind[]): RowCopier {
  const nested: { key: string; copy: (value: object) => unknown }[] = [];
  keys.forEach((key, i) => {
    const kind = kinds[i] ?? "g";
    if (kind === "p") return;
    const copy =
      kind === "d"
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
  return { row, rows };
}

/** For the bench and tests: the closure variant regardless of whether code generation works. */
export function closureCopierFor(keys: readonly string[], kinds: readonly FieldKind[]): RowCopier {
  return closureCopier(keys, kinds);
}

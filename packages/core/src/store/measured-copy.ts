/**
 * The fill copier: copies a loader's result for the store, counting heap bytes as it goes (see
 * heap-size.ts), and gives up as soon as the count passes the budget, so a result over
 * maxEntryBytes costs time and memory proportional to the budget, never to its expanded graph.
 *
 * An identity map copies every object once: a shared object is counted once and shared in the
 * copy, a cycle is reproduced. When the copy turns out to be a tree, what was learned about its
 * layout (which arrays hold same-shaped rows, what each field of those rows holds) is registered
 * for the hit copier (copy-plans.ts).
 */

import { copyView } from "./binary-copy.js";
import { copyCounters } from "./copy-counters.js";
import { attachPlan, type CopyPlan } from "./copy-plans.js";
import { deepFreeze, deepFreezeBelow } from "./deep-freeze.js";
import {
  ARRAY_BUFFER_BYTES,
  arrayBytes,
  DATE_BYTES,
  dictionaryObjectBytes,
  mapBytes,
  plainObjectBytes,
  primitiveBytes,
  setBytes,
  VIEW_BYTES,
} from "./heap-size.js";
import { type FieldKind, MAX_SHAPE_KEYS, type RowCopier, rowCopierFor } from "./shape-copier.js";
import { treeCopy } from "./tree-copy.js";
import { MAX_DEPTH, UncloneableValueError } from "./uncloneable.js";

export interface FillCopy {
  copy: unknown;
  bytes: number;
  /** Holds a Buffer, typed array, ArrayBuffer or DataView (which cannot be frozen). */
  binary: boolean;
}

interface FillState {
  seen: Map<object, unknown>;
  bytes: number;
  budget: number;
  /** Some object is reached twice (or a cycle): the hit copier needs its identity map. */
  shared: boolean;
  binary: boolean;
  /** The root copy, frozen last (freeze mode), once its plan is attached. */
  root: object | undefined;
}

/** Thrown (preallocated, so cheaply) to unwind the walk once the budget is spent. */
class OverBudget extends Error {}
const OVER_BUDGET = new OverBudget("over budget");

export function measuredCopy(value: unknown, budget: number, freeze: boolean): FillCopy | undefined {
  copyCounters.fillCopies++;
  if (typeof value !== "object" || value === null) {
    const bytes = primitiveBytes(value);
    if (bytes > budget) {
      copyCounters.overBudget++;
      return undefined;
    }
    return { copy: value, bytes, binary: false };
  }
  const state: FillState = {
    seen: new Map(),
    bytes: 0,
    budget,
    shared: false,
    binary: false,
    root: undefined,
  };
  let copy: unknown;
  try {
    copy = walk(value, state, 0);
  } catch (error) {
    if (error === OVER_BUDGET) {
      copyCounters.overBudget++;
      return undefined;
    }
    throw error;
  }
  const root = state.root;
  if (root === undefined) {
    // Not an array or plain object at the top: a Date, Map, Set, binary data or a class instance.
    return {
      copy: freeze && copy !== value ? deepFreeze(copy) : copy,
      bytes: state.bytes,
      binary: state.binary,
    };
  }
  if (state.shared) {
    if (freeze) Object.freeze(deepFreezeBelow(root));
    return { copy: root, bytes: state.bytes, binary: state.binary };
  }
  const copier = Array.isArray(root)
    ? rowsCopierOf(root)
    : Object.getPrototypeOf(root) === Object.prototype
      ? rowsCopierOf([root])
      : undefined;
  const plan = (copier === undefined ? treeCopy : Array.isArray(root) ? copier.rows : copier.row) as CopyPlan;
  let result: object = root;
  if (freeze) {
    // Frozen literals from the shape copier: Object.freeze on a spread copy is several times slower.
    if (copier === undefined) deepFreezeBelow(root);
    else
      result = Array.isArray(root)
        ? copier.rowsFrozenBelow(root as never)
        : copier.rowFrozenBelow(root as never);
  }
  attachPlan(result, plan);
  if (freeze) Object.freeze(result);
  return { copy: result, bytes: state.bytes, binary: state.binary };
}

function add(state: FillState, bytes: number): void {
  state.bytes += bytes;
  if (state.bytes > state.budget) throw OVER_BUDGET;
}

function walk(value: object, state: FillState, depth: number): unknown {
  const prior = state.seen.get(value);
  if (prior !== undefined) {
    // A class instance is shared as is anyway; any other repeat makes the copy a graph.
    if (prior !== value) state.shared = true;
    return prior;
  }
  if (depth > MAX_DEPTH) throw new UncloneableValueError();
  copyCounters.nodesVisited++;
  const next = depth + 1;
  if (Array.isArray(value)) {
    const length = value.length;
    add(state, arrayBytes(length));
    const out = new Array<unknown>(length);
    state.seen.set(value, out);
    for (let i = 0; i < length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null) out[i] = walk(item, state, next);
      else {
        out[i] = item;
        add(state, primitiveBytes(item));
      }
    }
    settle(out, state, depth);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    // Spread copies all own fields at once and keeps a "__proto__" key as a field (an assignment
    // would change the copy's prototype); symbol-keyed fields come along shallowly.
    const out: Record<string, unknown> =
      proto === null ? Object.assign(Object.create(null), value) : { ...(value as Record<string, unknown>) };
    state.seen.set(value, out);
    let fields = 0;
    // for-in also visits inherited enumerable fields (a polluted prototype): those are only read.
    for (const key in out) {
      fields++;
      const item = out[key];
      if (typeof item === "object" && item !== null) {
        if (Object.hasOwn(out, key)) out[key] = walk(item, state, next);
      } else add(state, primitiveBytes(item));
      // A wide object's slots count before its end is reached.
      if ((fields & 255) === 0 && state.bytes + plainObjectBytes(fields) > state.budget) throw OVER_BUDGET;
    }
    add(state, proto === null ? dictionaryObjectBytes(fields) : plainObjectBytes(fields));
    settle(out, state, depth);
    return out;
  }
  let out: unknown;
  if (value instanceof Date) {
    add(state, DATE_BYTES);
    out = new Date(value.getTime());
  } else if (ArrayBuffer.isView(value)) {
    add(state, VIEW_BYTES + value.byteLength);
    state.binary = true;
    out = copyView(value);
  } else if (value instanceof ArrayBuffer) {
    add(state, ARRAY_BUFFER_BYTES + value.byteLength);
    state.binary = true;
    out = value.slice(0);
  } else if (value instanceof Map) {
    add(state, mapBytes(value.size));
    const map = new Map<unknown, unknown>();
    state.seen.set(value, map);
    for (const [k, v] of value as Map<unknown, unknown>) map.set(item(k, state, next), item(v, state, next));
    return map;
  } else if (value instanceof Set) {
    add(state, setBytes(value.size));
    const set = new Set<unknown>();
    state.seen.set(value, set);
    for (const v of value as Set<unknown>) set.add(item(v, state, next));
    return set;
  } else {
    // Another class instance (Prisma's Decimal): shared as an immutable value, counted by its own
    // enumerable fields. It is not frozen: a class may keep private state it updates.
    add(state, plainObjectBytes(Object.keys(value).length) + 32);
    out = value;
  }
  state.seen.set(value, out);
  return out;
}

/** Note a root array or plain object (a plan is attached to it; in freeze mode it is frozen last). */
function settle(out: object, state: FillState, depth: number): void {
  if (depth === 0) state.root = out;
}

function item(value: unknown, state: FillState, depth: number): unknown {
  if (typeof value === "object" && value !== null) return walk(value, state, depth);
  add(state, primitiveBytes(value));
  return value;
}

/** The copier for plain rows that all have one shape (keys in one order), or undefined if they differ. */
function rowsCopierOf(rows: readonly unknown[]): RowCopier | undefined {
  const first = rows[0];
  if (typeof first !== "object" || first === null || Object.getPrototypeOf(first) !== Object.prototype) {
    return undefined;
  }
  const keys = Object.keys(first);
  const width = keys.length;
  if (width > MAX_SHAPE_KEYS) return undefined;
  // One for-in pass per row checks the shape and notes what each field holds (V8 reads fields by
  // their enum cache inside for-in, far faster than a keyed read per field and row).
  const held = new Array<number>(width).fill(0);
  for (const row of rows) {
    if (typeof row !== "object" || row === null || Object.getPrototypeOf(row) !== Object.prototype) {
      return undefined;
    }
    // Same keys in the same order (an inherited enumerable key makes the count differ: no copier).
    let i = 0;
    for (const key in row) {
      if (key !== keys[i]) return undefined;
      const value = (row as Record<string, unknown>)[key];
      if (typeof value === "object" && value !== null) held[i] = (held[i] as number) | holds(value);
      i++;
    }
    if (i !== width || Object.getOwnPropertySymbols(row).length > 0) return undefined;
  }
  const kinds = new Array<FieldKind>(width);
  for (let k = 0; k < width; k++) {
    kinds[k] = fieldKind(held[k] as number, rows as readonly Record<string, unknown>[], keys[k] as string);
  }
  return rowCopierFor(keys, kinds);
}

/** What a field's values were seen to be, as bits. */
const DATE = 1;
const FLAT_ARRAY = 2;
const ROW_ARRAY = 4;
const EMPTY_ARRAY = 8;
const OBJECT = 16;
const OTHER = 32;
const ARRAYS = FLAT_ARRAY | ROW_ARRAY | EMPTY_ARRAY;

function holds(value: object): number {
  if (Array.isArray(value)) {
    if (value.length === 0) return EMPTY_ARRAY;
    const contents = arrayOf(value);
    return contents === "primitives" ? FLAT_ARRAY : contents === "rows" ? ROW_ARRAY : OTHER;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) return OBJECT;
  return value instanceof Date ? DATE : OTHER;
}

/** One field's kind across all rows (see FieldKind); nested rows and objects get their own copier. */
function fieldKind(held: number, rows: readonly Record<string, unknown>[], key: string): FieldKind {
  if (held === 0) return "p";
  if (held & OTHER) return "g";
  const categories =
    Number((held & DATE) !== 0) + Number((held & ARRAYS) !== 0) + Number((held & OBJECT) !== 0);
  if (categories > 1) return "g";
  if (held === DATE) return "d";
  if (held & ARRAYS) {
    if (held & FLAT_ARRAY && held & ROW_ARRAY) return "g";
    if (!(held & ROW_ARRAY)) return "a";
    const nested: unknown[] = [];
    for (const row of rows) {
      const value = row[key];
      if (Array.isArray(value)) for (const element of value) nested.push(element);
    }
    const copier = rowsCopierOf(nested);
    return copier === undefined ? "g" : { rows: copier };
  }
  const nested: object[] = [];
  for (const row of rows) {
    const value = row[key];
    if (typeof value === "object" && value !== null) nested.push(value);
  }
  const copier = rowsCopierOf(nested);
  if (copier !== undefined) return { row: copier };
  return nested.every(isFlat) ? "f" : "g";
}

function arrayOf(array: readonly unknown[]): "primitives" | "rows" | "mixed" {
  const first = array[0];
  const objects = typeof first === "object" && first !== null;
  for (const item of array) {
    const object = typeof item === "object" && item !== null;
    if (object !== objects) return "mixed";
    if (object && Object.getPrototypeOf(item) !== Object.prototype) return "mixed";
  }
  return objects ? "rows" : "primitives";
}

/** A plain object whose own fields are all primitives (a spread copies it whole). */
function isFlat(value: object): boolean {
  // A "__proto__" field would be lost by the Object.assign of freeze mode's copy.
  if (Object.getOwnPropertySymbols(value).length > 0 || Object.hasOwn(value, "__proto__")) return false;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === "object" && item !== null) return false;
  }
  return true;
}

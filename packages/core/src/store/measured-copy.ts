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
import { type CopyPlan, rootPlans, rowArrayPlans } from "./copy-plans.js";
import { FrozenMap, FrozenSet, frozenDate, mapSet, setAdd } from "./frozen-builtins.js";
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
import { type FieldKind, MAX_SHAPE_KEYS, rowCopierFor } from "./shape-copier.js";
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
  freeze: boolean;
  /** Some object is reached twice (or a cycle): the hit copier needs its identity map. */
  shared: boolean;
  binary: boolean;
  /** Copied arrays whose first element is a plain object: candidates for a rows copier. */
  rowArrays: unknown[][];
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
    freeze,
    shared: false,
    binary: false,
    rowArrays: [],
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
  if (!state.shared && typeof copy === "object" && copy !== null) registerPlans(copy, state.rowArrays);
  return { copy, bytes: state.bytes, binary: state.binary };
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
    const first = out[0];
    if (typeof first === "object" && first !== null) state.rowArrays.push(out);
    if (state.freeze) Object.freeze(out);
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
    if (state.freeze) Object.freeze(out);
    return out;
  }
  let out: unknown;
  if (value instanceof Date) {
    add(state, DATE_BYTES);
    out = state.freeze ? frozenDate(value.getTime()) : new Date(value.getTime());
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
    const map = state.freeze ? new FrozenMap<unknown, unknown>() : new Map<unknown, unknown>();
    state.seen.set(value, map);
    for (const [k, v] of value as Map<unknown, unknown>)
      mapSet.call(map, item(k, state, next), item(v, state, next));
    if (state.freeze) Object.freeze(map);
    return map;
  } else if (value instanceof Set) {
    add(state, setBytes(value.size));
    const set = state.freeze ? new FrozenSet<unknown>() : new Set<unknown>();
    state.seen.set(value, set);
    for (const v of value as Set<unknown>) setAdd.call(set, item(v, state, next));
    if (state.freeze) Object.freeze(set);
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

function item(value: unknown, state: FillState, depth: number): unknown {
  if (typeof value === "object" && value !== null) return walk(value, state, depth);
  add(state, primitiveBytes(value));
  return value;
}

/** Register the hit plans of a copy that is a tree. */
function registerPlans(root: object, rowArrays: unknown[][]): void {
  for (const rows of rowArrays) {
    const copier = rowsCopierOf(rows);
    if (copier !== undefined) rowArrayPlans.set(rows, copier.rows as CopyPlan);
  }
  let plan: CopyPlan | undefined = rowArrayPlans.get(root);
  if (plan === undefined && Object.getPrototypeOf(root) === Object.prototype) {
    plan = rowsCopierOf([root])?.row as CopyPlan | undefined;
  }
  rootPlans.set(root, plan ?? (treeCopy as CopyPlan));
}

/** The copier for an array of plain rows with one shape, or undefined if its rows differ. */
function rowsCopierOf(rows: readonly unknown[]) {
  const first = rows[0];
  if (typeof first !== "object" || first === null || Object.getPrototypeOf(first) !== Object.prototype) {
    return undefined;
  }
  const keys = Object.keys(first);
  const width = keys.length;
  if (width > MAX_SHAPE_KEYS) return undefined;
  const kinds: FieldKind[] = new Array<FieldKind>(width).fill("p");
  for (const row of rows) {
    if (typeof row !== "object" || row === null || Object.getPrototypeOf(row) !== Object.prototype) {
      return undefined;
    }
    // Same keys in the same order (an inherited enumerable key makes the count differ: no plan).
    let i = 0;
    for (const key in row) {
      if (key !== keys[i]) return undefined;
      i++;
    }
    if (i !== width || Object.getOwnPropertySymbols(row).length > 0) return undefined;
    const record = row as Record<string, unknown>;
    for (let k = 0; k < width; k++) {
      const was = kinds[k] as FieldKind;
      if (was === "g") continue;
      const kind = kindOf(record[keys[k] as string]);
      if (kind !== was) kinds[k] = was === "p" ? kind : kind === "p" ? was : "g";
    }
  }
  return rowCopierFor(keys, kinds);
}

function kindOf(value: unknown): FieldKind {
  if (typeof value !== "object" || value === null) return "p";
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) if (typeof item === "object" && item !== null) return "g";
    return "a";
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype) {
    if (Object.getOwnPropertySymbols(value).length > 0) return "g";
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (typeof item === "object" && item !== null) return "g";
    }
    return "f";
  }
  // Copies hold plain Dates or FrozenDates; a copy of a Date is never another subclass.
  if (value instanceof Date) return "d";
  return "g";
}

/**
 * Freeze a fresh copy in place, all the way down: plain objects and arrays with Object.freeze;
 * Date, Map and Set, which Object.freeze does not protect, replaced by their read-only
 * subclasses (frozen-builtins.ts). Binary data is left as is (it cannot be made read-only: the
 * caller knows the result is not shareable). Class instances are shared values, not ours to
 * freeze. An identity map keeps a DAG a DAG and ends cycles.
 *
 * Only for copies the cache made: the value is changed in place.
 */

import { FrozenMap, FrozenSet, frozenDate, mapSet, setAdd } from "./frozen-builtins.js";

/** The frozen form of `value` (itself, frozen, unless it is a Date, Map or Set). */
export function deepFreeze<T>(value: T): T {
  return freeze(value, new Map()) as T;
}

/** Freeze everything below `root` but leave `root` itself open (to attach a plan first). */
export function deepFreezeBelow<T extends object>(root: T): T {
  const seen = new Map<object, unknown>([[root, root]]);
  freezeChildren(root, seen);
  return root;
}

function freeze(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value !== "object" || value === null) return value;
  const prior = seen.get(value);
  if (prior !== undefined) return prior;
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value) || proto === Object.prototype || proto === null) {
    seen.set(value, value);
    freezeChildren(value, seen);
    return Object.freeze(value);
  }
  if (value instanceof Date) {
    const date = frozenDate(value.getTime());
    seen.set(value, date);
    return date;
  }
  if (value instanceof Map) {
    const map = new FrozenMap<unknown, unknown>();
    seen.set(value, map);
    for (const [k, v] of value) mapSet.call(map, freeze(k, seen), freeze(v, seen));
    return Object.freeze(map);
  }
  if (value instanceof Set) {
    const set = new FrozenSet<unknown>();
    seen.set(value, set);
    for (const v of value) setAdd.call(set, freeze(v, seen));
    return Object.freeze(set);
  }
  seen.set(value, value);
  return value;
}

function freezeChildren(value: object, seen: Map<object, unknown>): void {
  if (value instanceof Map || value instanceof Set || value instanceof Date) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null) value[i] = freeze(item, seen);
    }
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (typeof item !== "object" || item === null) continue;
    const frozen = freeze(item, seen);
    if (frozen === item) continue;
    // An assignment to "__proto__" would set the prototype, not the field.
    if (key === "__proto__") Object.defineProperty(record, key, { value: frozen });
    else record[key] = frozen;
  }
}

/**
 * The copier for a value nothing is known about (a loader's result handed to a second waiter, or a
 * stored value that shares objects): an identity map copies each object once, so a shared object
 * is shared in the copy and a cycle is reproduced, in time proportional to the distinct objects.
 */

import { copyView } from "./binary-copy.js";
import { MAX_DEPTH, UncloneableValueError } from "./uncloneable.js";

export function identityCopy(value: object): unknown {
  return copy(value, new Map(), 0);
}

function copy(value: object, seen: Map<object, unknown>, depth: number): unknown {
  const prior = seen.get(value);
  if (prior !== undefined) return prior;
  if (depth > MAX_DEPTH) throw new UncloneableValueError();
  const next = depth + 1;
  if (Array.isArray(value)) {
    const length = value.length;
    const out: unknown[] = value.slice();
    seen.set(value, out);
    for (let i = 0; i < length; i++) {
      const item: unknown = out[i];
      if (typeof item === "object" && item !== null) out[i] = copy(item, seen, next);
    }
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> =
      proto === null ? Object.assign(Object.create(null), value) : { ...(value as Record<string, unknown>) };
    seen.set(value, out);
    for (const key in out) {
      const item = out[key];
      if (typeof item === "object" && item !== null && Object.hasOwn(out, key)) {
        out[key] = copy(item, seen, next);
      }
    }
    return out;
  }
  let out: unknown;
  if (value instanceof Date) out = new Date(value.getTime());
  else if (ArrayBuffer.isView(value)) out = copyView(value);
  else if (value instanceof ArrayBuffer) out = value.slice(0);
  else if (value instanceof Map) {
    const map = new Map<unknown, unknown>();
    seen.set(value, map);
    for (const [k, v] of value) {
      map.set(
        typeof k === "object" && k !== null ? copy(k, seen, next) : k,
        typeof v === "object" && v !== null ? copy(v, seen, next) : v,
      );
    }
    return map;
  } else if (value instanceof Set) {
    const set = new Set<unknown>();
    seen.set(value, set);
    for (const v of value) set.add(typeof v === "object" && v !== null ? copy(v, seen, next) : v);
    return set;
  } else return value; // another class instance: shared as an immutable value
  seen.set(value, out);
  return out;
}

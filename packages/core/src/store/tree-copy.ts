/**
 * The hit copier for (parts of) a stored value the fill copier found to be a tree (copy-plans.ts):
 * no identity map is needed, since no object in it is reached twice.
 */

import { copyView } from "./binary-copy.js";

export function treeCopy(value: object): unknown {
  if (Array.isArray(value)) {
    const length = value.length;
    const out: unknown[] = value.slice();
    for (let i = 0; i < length; i++) {
      const item: unknown = out[i];
      if (typeof item === "object" && item !== null) out[i] = treeCopy(item);
    }
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    // Spread keeps a "__proto__" own key as a field (an assignment would set the prototype).
    const out: Record<string, unknown> =
      proto === null ? Object.assign(Object.create(null), value) : { ...(value as Record<string, unknown>) };
    for (const key in out) {
      const item = out[key];
      if (typeof item === "object" && item !== null && Object.hasOwn(out, key)) out[key] = treeCopy(item);
    }
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value)) return copyView(value);
  if (value instanceof ArrayBuffer) return value.slice(0);
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) {
      out.set(
        typeof k === "object" && k !== null ? treeCopy(k) : k,
        typeof v === "object" && v !== null ? treeCopy(v) : v,
      );
    }
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<unknown>();
    for (const v of value) out.add(typeof v === "object" && v !== null ? treeCopy(v) : v);
    return out;
  }
  // Another class instance (Prisma's Decimal): shared as an immutable value.
  return value;
}

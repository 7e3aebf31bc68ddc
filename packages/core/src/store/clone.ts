/**
 * Isolation (rule 6): the cache keeps its own copy of a value and hands every caller a fresh one,
 * so no caller can change what another one gets.
 *
 * Copied: plain objects, arrays, Date, Buffer and typed arrays, ArrayBuffer, Map, Set.
 * Shared: primitives (bigint included) and instances of other classes, which are treated as
 * immutable values (Prisma's Decimal, for example, is immutable; structuredClone would strip its
 * prototype). A class instance that is mutated in place is the one case this does not protect.
 */

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

/** Deeper than this is treated as cyclic: the value is returned to its caller but not cached. */
const MAX_DEPTH = 256;

export class UncloneableValueError extends Error {
  readonly code = "UNCLONEABLE_VALUE";
}

export function cloneValue<T>(value: T): T {
  return copy(value, 0, undefined) as T;
}

/** A copy of `value` and an estimate of the heap bytes it occupies. */
export function cloneAndMeasure<T>(value: T): { copy: T; bytes: number } {
  const size = { bytes: 0 };
  const result = copy(value, 0, size) as T;
  return { copy: result, bytes: size.bytes };
}

function copy(value: unknown, depth: number, size: { bytes: number } | undefined): unknown {
  if (typeof value !== "object" || value === null) {
    if (size) size.bytes += primitiveBytes(value);
    return value;
  }
  if (depth > MAX_DEPTH) throw new UncloneableValueError("value is nested too deeply (or cyclic) to cache");
  if (Array.isArray(value)) {
    // slice() copies the primitives in one go; only nested objects need a visit.
    const out: unknown[] = Array.prototype.slice.call(value);
    if (size) size.bytes += arrayBytes(out.length);
    for (let i = 0; i < out.length; i++) {
      const item = out[i];
      if (typeof item === "object" && item !== null) out[i] = copy(item, depth + 1, size);
      else if (size) size.bytes += primitiveBytes(item);
    }
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    // Spread copies all own fields at once (and keeps a "__proto__" key as a field, where an
    // assignment would change the copy's prototype); then only nested objects need a visit.
    // Symbol-keyed fields come along shallowly (query results have none).
    const out: Record<string, unknown> =
      proto === null ? Object.assign(Object.create(null), value) : { ...(value as Record<string, unknown>) };
    let fields = 0;
    // for-in is markedly faster than Object.keys on row-sized objects. It also visits inherited
    // enumerable fields (a polluted prototype): those are only read, never copied onto `out`.
    for (const key in out) {
      fields++;
      const item = out[key];
      if (typeof item === "object" && item !== null) {
        if (Object.hasOwn(out, key)) out[key] = copy(item, depth + 1, size);
      } else if (size) size.bytes += primitiveBytes(item);
    }
    if (size) size.bytes += proto === null ? dictionaryObjectBytes(fields) : plainObjectBytes(fields);
    return out;
  }
  if (value instanceof Date) {
    if (size) size.bytes += DATE_BYTES;
    return new Date(value.getTime());
  }
  if (ArrayBuffer.isView(value)) {
    if (size) size.bytes += VIEW_BYTES + value.byteLength;
    if (Buffer.isBuffer(value)) return Buffer.from(value);
    if (value instanceof DataView) {
      return new DataView(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
    }
    const TypedArray = value.constructor as new (source: ArrayBufferView) => ArrayBufferView;
    return new TypedArray(value);
  }
  if (value instanceof ArrayBuffer) {
    if (size) size.bytes += ARRAY_BUFFER_BYTES + value.byteLength;
    return value.slice(0);
  }
  if (value instanceof Map) {
    if (size) size.bytes += mapBytes(value.size);
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) out.set(copy(k, depth + 1, size), copy(v, depth + 1, size));
    return out;
  }
  if (value instanceof Set) {
    if (size) size.bytes += setBytes(value.size);
    const out = new Set<unknown>();
    for (const v of value) out.add(copy(v, depth + 1, size));
    return out;
  }
  // Another class instance: shared as an immutable value. Count it by its own enumerable fields.
  if (size) size.bytes += plainObjectBytes(Object.keys(value).length) + 32;
  return value;
}

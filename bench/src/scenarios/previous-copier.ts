/**
 * The copier the engine used before shape copiers and byte budgets (spread, then visit nested
 * values), kept verbatim so the isolation table can show the ratio. It expands shared references
 * and copies a value whole before its size is known.
 */
// The heap-size helpers it used (packages/core/src/store/heap-size.ts at that time).
const DATE_BYTES = 112;
const VIEW_BYTES = 200;
const ARRAY_BUFFER_BYTES = 88;
const powerOfTwoAtLeast = (n: number) => (n <= 1 ? 1 : 2 ** (32 - Math.clz32(n - 1)));
const plainObjectBytes = (count: number) => (count <= 4 ? 56 : 56 + 16 + 24 * Math.ceil((count - 4) / 3));
const dictionaryObjectBytes = (count: number) =>
  88 + 24 * Math.max(4, powerOfTwoAtLeast(count + (count >> 1)));
const arrayBytes = (length: number) => (length === 0 ? 32 : 48 + 8 * length);
const mapBytes = (size: number) => 72 + 28 * Math.max(4, powerOfTwoAtLeast(size));
const setBytes = (size: number) => 72 + 20 * Math.max(4, powerOfTwoAtLeast(size));
function primitiveBytes(value: unknown): number {
  switch (typeof value) {
    case "string":
      return (2 * value.length + 23) & ~7;
    case "number":
      return (value | 0) === value ? 0 : 16;
    case "bigint":
      return 16 + 8 * Math.ceil((value < 0n ? -value : value).toString(16).length / 16);
    default:
      return 0;
  }
}

const MAX_DEPTH = 256;

export function previousCloneValue<T>(value: T): T {
  return copy(value, 0, undefined) as T;
}

export function previousCloneAndMeasure<T>(value: T): { copy: T; bytes: number } {
  const size = { bytes: 0 };
  const result = copy(value, 0, size) as T;
  return { copy: result, bytes: size.bytes };
}

function copy(value: unknown, depth: number, size: { bytes: number } | undefined): unknown {
  if (typeof value !== "object" || value === null) {
    if (size) size.bytes += primitiveBytes(value);
    return value;
  }
  if (depth > MAX_DEPTH) throw new Error("value is nested too deeply (or cyclic) to cache");
  if (Array.isArray(value)) {
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
    const out: Record<string, unknown> =
      proto === null ? Object.assign(Object.create(null), value) : { ...(value as Record<string, unknown>) };
    let fields = 0;
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
  if (size) size.bytes += plainObjectBytes(Object.keys(value).length) + 32;
  return value;
}

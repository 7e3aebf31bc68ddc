import { UnserializableArgumentError } from "../errors.js";

/**
 * A cache key for a list of arguments: equal for arguments that are equal as data, whatever the
 * order of object keys. Valid arguments: strings, numbers, booleans, null, undefined, bigint, Date,
 * Buffer/Uint8Array, arrays, plain objects, Map and Set of those, and objects with `toJSON()`.
 * Functions, symbols, cycles and other class instances are refused with UnserializableArgumentError.
 *
 * Values JSON cannot express are written as `#name…` tokens. A JSON value never starts with `#`,
 * so `{ $date: "…" }` (a plain object) and a Date can never share a key.
 */
export function stableKey(args: readonly unknown[]): string {
  return encode(args, "args", new Set(), 0);
}

/**
 * Deeper arguments are refused: recursion past a few thousand levels overflows the stack (an
 * untyped RangeError), and the path in the message grows with the depth.
 */
export const MAX_ARGUMENT_DEPTH = 256;

function encode(value: unknown, path: string, seen: Set<object>, depth: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      // String(-0) is "0": -0 is a distinct argument (1 / -0 is -Infinity), as in queryKey.
      if (Object.is(value, -0)) return "#num:-0";
      return Number.isFinite(value) ? String(value) : `#num:${value}`;
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return "#undef";
    case "bigint":
      return `#big:${value}`;
    case "function":
      throw new UnserializableArgumentError(path, "a function");
    case "symbol":
      throw new UnserializableArgumentError(path, "a symbol");
  }
  if (value === null) return "null";
  const object = value as object;
  if (seen.has(object)) throw new UnserializableArgumentError(path, "cyclic");
  if (depth >= MAX_ARGUMENT_DEPTH) {
    throw new UnserializableArgumentError(
      path.length > 60 ? `${path.slice(0, 60)}…` : path,
      `nested deeper than ${MAX_ARGUMENT_DEPTH} levels`,
    );
  }
  const next = depth + 1;
  seen.add(object);
  try {
    if (Array.isArray(object))
      return `[${object.map((v, i) => encode(v, `${path}[${i}]`, seen, next)).join(",")}]`;
    if (object instanceof Date)
      return `#date:${Number.isNaN(object.getTime()) ? "invalid" : object.toISOString()}`;
    if (object instanceof Uint8Array)
      return `#bytes:${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("hex")}`;
    if (object instanceof Map) {
      const entries = [...object.entries()].map(([k, v], i) => [
        encode(k, `${path}<key ${i}>`, seen, next),
        encode(v, `${path}<value ${i}>`, seen, next),
      ]);
      entries.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
      return `#map[${entries.map(([k, v]) => `[${k},${v}]`).join(",")}]`;
    }
    if (object instanceof Set) {
      const items = [...object].map((v, i) => encode(v, `${path}<item ${i}>`, seen, next)).sort();
      return `#set[${items.join(",")}]`;
    }
    const proto: unknown = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const toJSON = (object as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") return encode(toJSON.call(object), path, seen, next);
      throw new UnserializableArgumentError(
        path,
        `an instance of ${object.constructor?.name ?? "a class"} without toJSON()`,
      );
    }
    const record = object as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], `${path}.${k}`, seen, next)}`).join(",")}}`;
  } finally {
    seen.delete(object);
  }
}

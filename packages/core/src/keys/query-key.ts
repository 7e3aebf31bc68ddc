/** Returned by a {@link ValueEncoder} to let the default encoding handle a value. */
export const DEFAULT_ENCODING: unique symbol = Symbol("pgcachewatch.defaultEncoding");

/**
 * An adapter's encoding of its own values (e.g. Prisma's Decimal and null sentinels), consulted for
 * every object before the default encoding: a string that spells the value faithfully (it is kept
 * apart from every default encoding), `undefined` when it cannot be keyed (the query is then not
 * cached), or {@link DEFAULT_ENCODING}.
 */
export type ValueEncoder = (value: object) => string | undefined | typeof DEFAULT_ENCODING;

/**
 * The cache key of a rendered SQL query: a namespace (adapter, statement text, result shape...) and
 * the parameters. Parameters are encoded with their type, so two keys are equal only if PostgreSQL
 * receives the same statement: a Date and its ISO string, a Buffer and a number array, 1 and 1n,
 * a plain object and any tagged value all give different keys (every encoding starts with a
 * character that says its type). A parameter that cannot be encoded faithfully (a class instance,
 * e.g. one with `toPostgres()`, a function, a cycle) yields `undefined`: the query then runs uncached,
 * unless `encodeValue` spells it.
 */
export function queryKey(
  namespace: readonly string[],
  params: readonly unknown[],
  encodeValue?: ValueEncoder,
): string | undefined {
  // Built by appending to one string (no array of parts per value): a key is built on every hit.
  let key = namespace.join("\u0000");
  key += "\u0000";
  for (let i = 0; i < params.length; i++) {
    const encoded = encode(params[i], 0, encodeValue);
    if (encoded === undefined) return undefined;
    key += i === 0 ? encoded : `,${encoded}`;
  }
  return key;
}

const MAX_DEPTH = 64;

/** Object keys that JSON.stringify spells as they are between quotes (most field names). */
const PLAIN_KEY = /^[\w$ .-]*$/;

function encode(value: unknown, depth: number, hook: ValueEncoder | undefined): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Object.is(value, -0) ? "n-0" : `n${value}`;
    case "bigint":
      return `i${value}`;
    case "boolean":
      return value ? "T" : "F";
    case "undefined":
      return "U";
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return "N";
  if (depth > MAX_DEPTH) return undefined;
  if (hook !== undefined) {
    const own = hook(value);
    // "~" starts no default encoding: an adapter's spelling never equals one of them.
    if (own !== DEFAULT_ENCODING) return own === undefined ? undefined : `~${own}`;
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      const encoded = encode(value[i], depth + 1, hook);
      if (encoded === undefined) return undefined;
      out += i === 0 ? encoded : `,${encoded}`;
    }
    return `${out}]`;
  }
  if (value instanceof Date) return `d${value.getTime()}`;
  if (ArrayBuffer.isView(value)) {
    return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  // Key order is kept: pg sends JSON text in insertion order; two spellings are two entries, never one entry for two queries.
  const keys = Object.keys(value);
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const encoded = encode((value as Record<string, unknown>)[key], depth + 1, hook);
    if (encoded === undefined) return undefined;
    const name = PLAIN_KEY.test(key) ? `"${key}"` : JSON.stringify(key);
    out += i === 0 ? `${name}:${encoded}` : `,${name}:${encoded}`;
  }
  return `${out}}`;
}

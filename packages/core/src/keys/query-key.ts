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
  const parts: string[] = [];
  for (const parameter of params) {
    const encoded = encode(parameter, 0, encodeValue);
    if (encoded === undefined) return undefined;
    parts.push(encoded);
  }
  return `${namespace.join("\u0000")}\u0000${parts.join(",")}`;
}

const MAX_DEPTH = 64;

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
    const items: string[] = [];
    for (const item of value) {
      const encoded = encode(item, depth + 1, hook);
      if (encoded === undefined) return undefined;
      items.push(encoded);
    }
    return `[${items.join(",")}]`;
  }
  if (value instanceof Date) return `d${value.getTime()}`;
  if (ArrayBuffer.isView(value)) {
    return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  // Key order is kept: pg sends JSON text in insertion order; two spellings are two entries, never one entry for two queries.
  const fields: string[] = [];
  for (const [key, field] of Object.entries(value)) {
    const encoded = encode(field, depth + 1, hook);
    if (encoded === undefined) return undefined;
    fields.push(`${JSON.stringify(key)}:${encoded}`);
  }
  return `{${fields.join(",")}}`;
}

import type { CompiledQuery } from "kysely";

/**
 * The cache key of a compiled query: SQL text and parameters. Parameters are encoded with their
 * type (a Date and its ISO string, a Buffer and a number array, 1 and 1n give different keys), so
 * two keys are equal only if PostgreSQL receives the same statement. A parameter that cannot be
 * encoded faithfully (a class instance such as one with `toPostgres()`) yields `undefined`: the
 * query then runs uncached.
 */
export function queryKey(query: CompiledQuery): string | undefined {
  const parts: string[] = [];
  for (const parameter of query.parameters) {
    const encoded = encode(parameter, 0);
    if (encoded === undefined) return undefined;
    parts.push(encoded);
  }
  // Prefixed: an engine shared with other adapters caches their results in other shapes.
  return `kysely\u0000${query.sql}\u0000${parts.join(",")}`;
}

const MAX_DEPTH = 64;

function encode(value: unknown, depth: number): string | undefined {
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
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const encoded = encode(item, depth + 1);
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
  const fields: string[] = [];
  for (const [key, field] of Object.entries(value)) {
    const encoded = encode(field, depth + 1);
    if (encoded === undefined) return undefined;
    fields.push(`${JSON.stringify(key)}:${encoded}`);
  }
  return `{${fields.join(",")}}`;
}

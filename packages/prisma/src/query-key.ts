/**
 * The cache key of a Prisma operation: model, operation and arguments. (Core's `queryKey` refuses
 * class instances; Prisma's arguments legitimately carry `Decimal` and its null sentinels.) Key order is kept as written
 * (two spellings of one query are two entries, never one entry for two queries). Values Prisma takes
 * besides JSON (Date, BigInt, Decimal, bytes, its null sentinels) are spelled with their type, so
 * `1n` and `1`, or a Date and its ISO string, never share a key. Returns undefined for a value it
 * cannot spell faithfully; such a query is not cached.
 */
export function queryKey(
  namespace: string,
  model: string,
  operation: string,
  args: unknown,
): string | undefined {
  const parts: string[] = [];
  if (!write(args, parts, 0)) return undefined;
  return `prisma\u0000${namespace}\u0000${model}\u0000${operation}\u0000${parts.join("")}`;
}

const MAX_DEPTH = 64;

function write(value: unknown, out: string[], depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  switch (typeof value) {
    case "undefined":
      out.push("u");
      return true;
    case "boolean":
    case "number":
      out.push(Number.isNaN(value) ? "NaN" : String(value));
      return true;
    case "string":
      out.push(JSON.stringify(value));
      return true;
    case "bigint":
      out.push(`${value}n`);
      return true;
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) {
    out.push("null");
    return true;
  }
  if (Array.isArray(value)) {
    out.push("[");
    for (const item of value) {
      if (!write(item, out, depth + 1)) return false;
      out.push(",");
    }
    out.push("]");
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    out.push("{");
    for (const [k, v] of Object.entries(value)) {
      // An explicit undefined is the same as an absent key to Prisma.
      if (v === undefined) continue;
      out.push(JSON.stringify(k), ":");
      if (!write(v, out, depth + 1)) return false;
      out.push(",");
    }
    out.push("}");
    return true;
  }
  if (value instanceof Date) {
    out.push(`Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`);
    return true;
  }
  if (value instanceof Uint8Array) {
    out.push(`Bytes(${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")})`);
    return true;
  }
  if (isDecimalLike(value)) {
    out.push(`Decimal(${value.toFixed()})`);
    return true;
  }
  const sentinel = prismaNullSentinel(value);
  if (sentinel) {
    out.push(sentinel);
    return true;
  }
  return false;
}

/** Prisma's Decimal (decimal.js), recognised by shape so that any copy of the runtime matches. */
function isDecimalLike(value: object): value is { toFixed(): string } {
  const v = value as Record<string, unknown>;
  return (
    typeof v.toFixed === "function" &&
    Array.isArray(v.d) &&
    typeof v.e === "number" &&
    typeof v.s === "number"
  );
}

/** `Prisma.DbNull`, `Prisma.JsonNull`, `Prisma.AnyNull`: instances of Prisma's ObjectEnumValue subclasses. */
function prismaNullSentinel(value: object): string | undefined {
  const name = (value.constructor as { name?: string } | undefined)?.name;
  if (name === "DbNull" || name === "JsonNull" || name === "AnyNull") return `Prisma.${name}`;
  return undefined;
}

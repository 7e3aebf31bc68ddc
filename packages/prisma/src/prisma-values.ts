import { DEFAULT_ENCODING, type ValueEncoder } from "@pgcachewatch/core/adapter";

const OBJECT_ENUM_VALUE = Symbol.for("prisma.objectEnumValue");

/**
 * Prisma's own argument values for core's key encoder: `Decimal` (by its exact digits) and the null
 * sentinels `Prisma.DbNull`, `Prisma.JsonNull`, `Prisma.AnyNull` (each its own spelling, so
 * filtering on one never hits the entry of another). Both are recognised by shape, so any copy of
 * Prisma's runtime matches. Everything else gets core's encoding (a Date, bytes, plain data) or is
 * refused (then the query is not cached).
 */
export const encodePrismaValue: ValueEncoder = (value) => {
  // Arguments are mostly plain objects and arrays, which are neither (a key is built on every hit).
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === Array.prototype) return DEFAULT_ENCODING;
  const v = value as Record<PropertyKey, unknown>;
  if (v[OBJECT_ENUM_VALUE] === true) {
    const name = (value.constructor as { name?: unknown } | undefined)?.name;
    return name === "DbNull" || name === "JsonNull" || name === "AnyNull" ? `Prisma.${name}` : undefined;
  }
  if (
    typeof v.toFixed === "function" &&
    Array.isArray(v.d) &&
    typeof v.e === "number" &&
    typeof v.s === "number"
  ) {
    return `Decimal(${(value as { toFixed(): string }).toFixed()})`;
  }
  return DEFAULT_ENCODING;
};

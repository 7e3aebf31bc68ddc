import { cloneValue } from "@pgcachewatch/core/adapter";

/**
 * Freeze mode hands every hit the one frozen result, but Prisma's client writes into a result after
 * our hook returns it: it assigns each element of a list (`rows[i] = visit(rows[i])`) and each
 * included or selected relation (`row.posts = visit(row.posts)`), unchanged values included, which
 * throws on a frozen array or row. So a frozen result is handed over with a writable spine: its
 * arrays, and the rows that carry a relation named in `include` / `select`, are the caller's own
 * shallow copies; everything else (scalars, Json, Dates, the relation rows' own fields) stays the
 * shared frozen value. The cache's value is never written.
 */
export function writableSpine(
  value: unknown,
  args: unknown,
  dataPath: readonly unknown[] | undefined,
): unknown {
  if (typeof value !== "object" || value === null || !Object.isFrozen(value)) return value;
  // The fluent API unpacks the result along a path before visiting it with another call's
  // arguments: a plain copy is always safe.
  if (dataPath !== undefined && dataPath.length > 0) return cloneValue(value);
  return spine(value, args);
}

function spine(value: unknown, args: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = spineRow(value[i], args);
    return out;
  }
  return spineRow(value, args);
}

/** A row is copied only when a relation it carries is named in its arguments (Prisma writes those). */
function spineRow(row: unknown, args: unknown): unknown {
  if (typeof row !== "object" || row === null || Array.isArray(row)) return row;
  const relations = relationArgs(args);
  if (relations === undefined) return row;
  let out: Record<string, unknown> | undefined;
  for (const [key, nested] of relations) {
    const field = (row as Record<string, unknown>)[key];
    if (typeof field !== "object" || field === null) continue;
    out ??= { ...(row as Record<string, unknown>) };
    out[key] = spine(field, typeof nested === "object" && nested !== null ? nested : {});
  }
  return out ?? row;
}

/** The fields named truthy in `include` and `select` (Prisma's visitor looks at both). */
function relationArgs(args: unknown): [string, unknown][] | undefined {
  if (typeof args !== "object" || args === null) return undefined;
  const { include, select } = args as { include?: unknown; select?: unknown };
  let found: [string, unknown][] | undefined;
  for (const part of [include, select]) {
    if (typeof part !== "object" || part === null) continue;
    for (const [key, nested] of Object.entries(part)) {
      if (!nested) continue;
      found ??= [];
      found.push([key, nested]);
    }
  }
  return found;
}

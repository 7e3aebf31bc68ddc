import { queryKey } from "@pgcachewatch/core/adapter";
import {
  type PrismaRequest,
  readComputedFields,
  readExtensions,
  readGlobalOmit,
  readModelNames,
} from "./prisma-internals.js";
import { encodePrismaValue } from "./prisma-values.js";

/** One spelling per global `omit` object and per extension list (both fixed for a client's lifetime). */
const omitShapes = new WeakMap<object, string>();
const extensionShapes = new WeakMap<object, string>();

/**
 * The cache key of a Prisma request as it reaches `_executeRequest`, after every query extension:
 * the method, the arguments as the innermost extension passed them on, the fluent path, and what
 * else shapes the result on this client: its global `omit` (a client created with
 * `omit: { user: { email: true } }` selects fewer columns) and its computed fields (their `needs`
 * change the selection). Undefined when a value cannot be keyed faithfully: not cached.
 */
export function requestKey(namespace: string, client: unknown, request: PrismaRequest): string | undefined {
  const omit = omitShape(client);
  const computed = computedShape(client);
  if (omit === undefined || computed === undefined) return undefined;
  return queryKey(
    ["prisma", namespace, request.clientMethod, request.action, omit, computed],
    [rawArgs(request.args), request.dataPath ?? []],
    encodePrismaValue,
  );
}

/** Raw queries arrive as Prisma's `Sql` (its parts and values) or `[text, ...values]`. */
function rawArgs(args: unknown): unknown {
  if (typeof args !== "object" || args === null || Array.isArray(args)) return args ?? null;
  const sql = args as { strings?: unknown; values?: unknown; sql?: unknown };
  if (Array.isArray(sql.values)) {
    // The parts, not the rendered text: a literal "?" in one part cannot make two queries one.
    if (Array.isArray(sql.strings)) return { strings: sql.strings, values: sql.values };
    if (typeof sql.sql === "string") return { sql: sql.sql, values: sql.values };
  }
  return args;
}

function omitShape(client: unknown): string | undefined {
  const omit = readGlobalOmit(client);
  if (omit === undefined || omit === null) return "";
  if (typeof omit !== "object") return undefined;
  let shape = omitShapes.get(omit);
  if (shape === undefined) {
    shape = queryKey(["omit"], [omit]);
    if (shape === undefined) return undefined;
    omitShapes.set(omit, shape);
  }
  return shape;
}

function computedShape(client: unknown): string | undefined {
  const extensions = readExtensions(client);
  let shape = extensionShapes.get(extensions);
  if (shape === undefined) {
    const fields: Record<string, Record<string, readonly string[]>> = {};
    for (const model of readModelNames(client)) {
      const computed = readComputedFields(extensions, model);
      if (Object.keys(computed).length > 0) fields[model] = computed;
    }
    shape = Object.keys(fields).length === 0 ? "" : queryKey(["computed"], [fields]);
    if (shape === undefined) return undefined;
    extensionShapes.set(extensions, shape);
  }
  return shape;
}

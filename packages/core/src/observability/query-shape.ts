import type { LoadRequest } from "../engine/load-request.js";

/** Longest shape kept, in characters: shapes are for reading, and their count is bounded too. */
export const MAX_SHAPE_LENGTH = 200;

/**
 * The query shape a read is counted under: the adapter's `name` (normalised SQL, a function's
 * name), else a fallback from the key that never includes parameter values. Keys built with
 * `queryKey` (and the adapters' keys) put the parameters after their last NUL: the part before
 * it is the statement. A `cached()` key is `cached:<name>#<n>:<arguments>`: its name is kept.
 * Any other key is not split safely, so it is counted as "(unnamed)".
 */
export function queryShape(request: LoadRequest, key: string): string {
  if (request.name !== undefined) return bounded(request.name);
  return shapeOfKey(key);
}

export function shapeOfKey(scopedKey: string): string {
  // A scoped key ends in "\u0001scope\u0000<scope>" (see the engine): the scope is not the shape.
  const scopeAt = scopedKey.indexOf("\u0001scope\u0000");
  const key = scopeAt < 0 ? scopedKey : scopedKey.slice(0, scopeAt);
  const lastNul = key.lastIndexOf("\u0000");
  if (lastNul > 0)
    return bounded(key.slice(0, lastNul).replaceAll("\u0000", " ").replace(/\s+/g, " ").trim());
  if (key.startsWith("cached:")) {
    const end = key.indexOf(":", 7);
    return bounded(end > 0 ? key.slice(0, end) : key);
  }
  return "(unnamed)";
}

/** The adapter behind a key, for a low-cardinality attribute: the key's first word. */
export function adapterOfKey(key: string): string {
  if (key.startsWith("kysely\u0000")) return "kysely";
  if (key.startsWith("prisma\u0000")) return "prisma";
  if (key.startsWith("drizzle:")) return "drizzle";
  if (key.startsWith("cached:")) return "cached";
  return "other";
}

function bounded(text: string): string {
  return text.length <= MAX_SHAPE_LENGTH ? text : `${text.slice(0, MAX_SHAPE_LENGTH - 1)}…`;
}

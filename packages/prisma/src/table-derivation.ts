import type { ModelGraph } from "./model-graph.js";
import { TableSet } from "./table-set.js";

/** Deeper than any query a person writes; past it we stop guessing and do not cache. */
const MAX_DEPTH = 64;

/**
 * The tables a model operation reads or writes, from its arguments: the model's own table and, for
 * every relation field named anywhere in the arguments (`include`, `select`, `_count`, `orderBy`,
 * relation filters in `where`, nested writes in `data`), the related model's table and its implicit
 * many-to-many join table. The walk over-approximates on purpose: a key that names a relation counts
 * wherever it appears. Returns undefined when the arguments cannot be understood (unknown model,
 * absurd depth): such a query is not cached.
 */
export function deriveTables(graph: ModelGraph, model: string, args: unknown): TableSet | undefined {
  const node = graph.model(model);
  if (!node) return undefined;
  const tables = TableSet.of([node.table]);
  return walk(graph, model, args, tables, 0, undefined) ? tables : undefined;
}

/**
 * The tables a mutation may change: those named by its arguments plus, for operations that update
 * or delete rows, every table one relation away (foreign keys with ON DELETE/UPDATE actions and
 * implicit many-to-many rows follow the model's rows). Deeper cascades reach the cache through the
 * change source.
 */
export function deriveMutationTables(
  graph: ModelGraph,
  model: string,
  operation: string,
  args: unknown,
): TableSet | undefined {
  const tables = deriveTables(graph, model, args);
  if (!tables || operation.startsWith("create")) return tables;
  const node = graph.model(model);
  for (const edge of node?.relations.values() ?? []) tables.addAll(edge.tables);
  return tables;
}

function walk(
  graph: ModelGraph,
  model: string,
  value: unknown,
  out: TableSet,
  depth: number,
  parentKey: string | undefined,
): boolean {
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!walk(graph, model, item, out, depth + 1, parentKey)) return false;
    return true;
  }
  if (!isPlainObject(value)) return true;
  const node = graph.model(model);
  if (!node) return false;
  for (const key of Object.keys(value)) {
    const child = value[key];
    const edge = node.relations.get(key);
    if (edge) {
      // `include: { posts: false }` reads nothing; anything else that names the relation does.
      if (child === false || child === undefined) continue;
      out.addAll(edge.tables);
      if (!walk(graph, edge.target, child, out, depth + 1, key)) return false;
    } else if (key === "_count" && child === true && (parentKey === "select" || parentKey === "include")) {
      // `include: { _count: true }` counts every relation of the model.
      for (const relation of node.relations.values()) out.addAll(relation.tables);
    } else if (!walk(graph, model, child, out, depth + 1, key)) {
      return false;
    }
  }
  return true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

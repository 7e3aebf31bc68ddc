import type { CatalogRelation, CatalogSnapshot } from "./catalog-snapshot.js";
import { parseSql } from "./sql-parser.js";
import { type StatementFacts, statementFacts } from "./statement-facts.js";

/**
 * The facts of a view's definition, parsed once per snapshot. pg_depend does not record what a
 * view calls in pg_catalog (built-in objects are pinned, without dependency rows), so `now()` in a
 * view is only seen in its text.
 */
const parsedViews = new WeakMap<CatalogSnapshot, Map<string, StatementFacts | null>>();

export function viewDefinitionFacts(snapshot: CatalogSnapshot, view: CatalogRelation): StatementFacts | null {
  let views = parsedViews.get(snapshot);
  if (!views) {
    views = new Map();
    parsedViews.set(snapshot, views);
  }
  const known = views.get(view.oid);
  if (known !== undefined) return known;
  let facts: StatementFacts | null = null;
  if (view.definition !== undefined) {
    const outcome = parseSql(view.definition);
    const stmt = outcome.ok ? outcome.result.stmts?.[0]?.stmt : undefined;
    if (stmt) facts = statementFacts(stmt);
  }
  views.set(view.oid, facts);
  return facts;
}

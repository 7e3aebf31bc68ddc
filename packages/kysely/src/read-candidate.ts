import type { CompiledQuery, OperationNode, WithNode } from "kysely";

const MUTATION_KINDS = new Set<string>([
  "InsertQueryNode",
  "UpdateQueryNode",
  "DeleteQueryNode",
  "MergeQueryNode",
]);

/** A raw text that starts as a read (`select`, `values`, `table`, `with` ... `select`). */
const READ_START = /^[\s(]*(select|values|table|with)\b/i;
const WRITE_WORD = /\b(insert|update|delete|merge)\b/i;

/**
 * Whether a statement marked `cached()` goes through the cache at all. The engine decides what is
 * stored (from PostgreSQL's parser); this only keeps writes out of single flight, where two
 * concurrent identical writes would otherwise run once. Kysely's root node says it for builders;
 * a raw `sql` text is taken only when it starts as a read and names no write keyword.
 */
export function isReadCandidate(compiledQuery: CompiledQuery): boolean {
  const node = compiledQuery.query;
  if (node.kind === "SelectQueryNode") {
    const select = node as { with?: WithNode; explain?: unknown };
    // `.explain("analyze")` runs the statement: its output is a plan, never a result to share.
    return select.explain === undefined && !writesInWith(select.with);
  }
  if (node.kind !== "RawNode") return false;
  const match = READ_START.exec(compiledQuery.sql);
  if (match === null) return false;
  return match[1]?.toLowerCase() !== "with" || !WRITE_WORD.test(compiledQuery.sql);
}

/** A data-modifying CTE (PostgreSQL allows them only in the top-level WITH). */
function writesInWith(withNode: WithNode | undefined): boolean {
  if (withNode === undefined) return false;
  return withNode.expressions.some((cte) => MUTATION_KINDS.has((cte.expression as OperationNode).kind));
}

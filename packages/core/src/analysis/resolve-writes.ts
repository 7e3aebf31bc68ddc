import type { RowWrite, WriteColumn, WriteSource } from "../engine/statement-analysis.js";
import type { CatalogRelation, CatalogSnapshot } from "./catalog-snapshot.js";
import type { StatementKind } from "./statement-facts.js";
import type { WriteCandidate } from "./write-constraints.js";

/**
 * The catalog's side of what a write changes. `sideEffects`: the tables it changes besides its
 * targets (referencing tables whose foreign-key actions cascade, set null or set default,
 * recursively; tables the rules on a target reference), all of them as a whole. `rowWrite`: the
 * columns of an ordinary target whose values the statement names (write-constraints.ts), when
 * nothing but the statement's own rows can change (no trigger of the user's, no rule, no
 * partitions or inheritance, no cascade back into the table itself).
 */

/** Relations a write to `targets` changes besides them. */
export function sideEffects(
  snapshot: CatalogSnapshot,
  targets: readonly CatalogRelation[],
  kind: StatementKind,
  candidate: WriteCandidate | undefined,
  truncateCascade = false,
): CatalogRelation[] {
  const out = new Map<string, CatalogRelation>();
  // UPDATE of known columns cascades only through keys it assigns; anything else may touch any key.
  const assigned =
    candidate?.kind === "update" && candidate.tableWide === undefined && candidate.assignsUnknown !== true
      ? new Set(candidate.columns.filter((c) => c.assigned).map((c) => c.column))
      : undefined;
  const deletes = kind === "delete" || kind === "merge";
  // INSERT ... ON CONFLICT DO UPDATE updates rows; a plain INSERT touches no referencing row.
  const updates =
    kind === "update" || kind === "merge" || (kind === "insert" && candidate?.tableWide !== undefined);
  // How the rows of each relation change: a deleted row cascades by ON DELETE, an updated one by ON UPDATE.
  type Change = {
    readonly deleted: boolean;
    readonly updated: boolean;
    readonly truncated: boolean;
    readonly columns?: ReadonlySet<string>;
  };
  const queue: { rel: CatalogRelation; change: Change }[] = targets.map((rel) => ({
    rel,
    change: {
      deleted: deletes,
      updated: updates,
      truncated: truncateCascade,
      ...(assigned === undefined ? {} : { columns: assigned }),
    },
  }));
  const reached = new Map<string, { deleted: boolean; updated: boolean; truncated: boolean }>();
  const add = (rel: CatalogRelation, deleted: boolean, truncated = false) => {
    if (!out.has(rel.oid)) out.set(rel.oid, rel);
    const before = reached.get(rel.oid) ?? { deleted: false, updated: false, truncated: false };
    const now = {
      deleted: before.deleted || deleted,
      updated: before.updated || !deleted,
      truncated: before.truncated || truncated,
    };
    if (
      now.deleted === before.deleted &&
      now.updated === before.updated &&
      now.truncated === before.truncated
    )
      return;
    reached.set(rel.oid, now);
    // Its rows may cascade further, by the actions of the keys referencing it (any of its columns may have changed).
    queue.push({ rel, change: { deleted, updated: !deleted, truncated } });
  };
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { rel, change } = next;
    for (const oid of snapshot.ruleReferences(rel.oid, true).relations) {
      const referenced = snapshot.relationByOid(oid);
      if (referenced) add(referenced, false);
    }
    for (const action of snapshot.referencingActions(rel)) {
      const child = snapshot.relationByOid(action.child);
      if (!child) continue;
      // TRUNCATE ... CASCADE empties every referencing table, whatever its key's actions.
      if (change.truncated) add(child, true, true);
      if (change.deleted && action.onDelete !== undefined) add(child, action.onDelete === "delete");
      const columns = change.columns;
      if (
        change.updated &&
        action.onUpdate &&
        (columns === undefined || action.columns.some((column) => columns.has(column)))
      ) {
        add(child, false);
      }
    }
  }
  return [...out.values()];
}

/** Per-row write of `rel`, or undefined when only the whole table can be named. */
export function rowWrite(
  snapshot: CatalogSnapshot,
  rel: CatalogRelation,
  candidate: WriteCandidate,
): RowWrite | undefined {
  if (candidate.tableWide !== undefined) return undefined;
  if (rel.kind !== "r" || rel.temporary || snapshot.hasChildren(rel) || snapshot.parents(rel.oid).length > 0)
    return undefined;
  if (snapshot.hasWriteHooks(rel)) return undefined;
  const returnedAs = new Map<string, string>();
  for (const output of candidate.returning) {
    if (!returnedAs.has(output.column)) returnedAs.set(output.column, output.name);
  }
  const columns: WriteColumn[] = [];
  for (const [name, column] of snapshot.constrainableColumns(rel)) {
    const written = candidate.columns.find((c) => c.column === name);
    const returned = returnedAs.get(name) ?? (candidate.returningAll ? name : undefined);
    const fromText = (values: WriteColumnValues) => (values === undefined ? [] : [{ values }]);
    const fromResult: WriteSource[] = returned === undefined ? [] : [{ returned }];
    let parts: WriteSource[][];
    if (candidate.kind === "delete") parts = [[...fromText(written?.old), ...fromResult]];
    else if (candidate.kind === "insert") parts = [[...fromText(written?.new), ...fromResult]];
    else if (written?.assigned === true || candidate.assignsUnknown === true || column.generated) {
      // RETURNING gives the new values only; the old ones must come from the WHERE.
      parts = [
        fromText(written?.old),
        [...fromText(written?.assigned === true ? written.new : undefined), ...fromResult],
      ];
    } else {
      // Not assigned: the old values are the new ones.
      parts = [[...fromText(written?.old), ...fromResult]];
    }
    if (parts.every((part) => part.length > 0)) columns.push({ column: name, type: column.family, parts });
  }
  return { table: { schema: rel.schema, table: rel.name }, columns };
}

type WriteColumnValues = WriteCandidate["columns"][number]["old"];

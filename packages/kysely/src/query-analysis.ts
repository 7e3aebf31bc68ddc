import type {
  AliasNode,
  CommonTableExpressionNode,
  OperationNode,
  RawNode,
  RootOperationNode,
  SchemableIdentifierNode,
  SelectModifierNode,
  TableNode,
  WithNode,
} from "kysely";

/** A table as PostgreSQL stores its name; `schema` undefined means "unqualified". */
export interface QueryTable {
  readonly schema: string | undefined;
  readonly table: string;
}

/** What the cache needs to know about one statement, derived from its operation tree. */
export interface QueryAnalysis {
  /** The statement's root kind, e.g. `SelectQueryNode`, `InsertQueryNode`, `RawNode`. */
  readonly kind: RootOperationNode["kind"];
  /** Every table the statement names (reads and writes), CTE names excluded, in order of appearance. */
  readonly tables: readonly QueryTable[];
  /** Tables the statement writes: INSERT/UPDATE/DELETE/MERGE targets anywhere (data-modifying CTEs too), and DDL targets. */
  readonly writes: readonly QueryTable[];
  /** A `sql` fragment with text of its own: the statement may name tables we cannot see (rule 5). */
  readonly opaque: boolean;
  /** Why the statement must never be answered from the cache even if opted in, if it must not. */
  readonly uncacheable: "write" | "locking" | "explain" | "not-a-query" | undefined;
}

const MUTATION_KINDS = new Set<string>([
  "InsertQueryNode",
  "UpdateQueryNode",
  "DeleteQueryNode",
  "MergeQueryNode",
]);
const READ_ROOT_KINDS = new Set<string>(["SelectQueryNode", "RawNode"]);
const LOCKING_MODIFIERS = new Set<string>(["ForUpdate", "ForNoKeyUpdate", "ForShare", "ForKeyShare"]);
/** Nodes holding the caller's values (which may be any object): never walked. */
const VALUE_KINDS = new Set<string>(["ValueNode", "PrimitiveValueListNode"]);

/**
 * Text a `sql` fragment may carry without naming a relation: whitespace, punctuation, operators and
 * digits. Any letter, underscore or quote could be an identifier, a keyword or a function: opaque.
 */
const NEUTRAL_SQL_TEXT = /^[\s0-9,.;:()[\]=<>!~+\-*/%^&|#@?]*$/;

/**
 * Kysely's own PostgreSQL helpers (`kysely/helpers/postgres`) wrap a subquery in fixed SQL that
 * names no table. Seen through, so `jsonArrayFrom(...)` and friends do not make a query opaque.
 */
const KNOWN_HELPER_FRAGMENTS = new Set<string>([
  ["(select coalesce(json_agg(agg), '[]') from ", " as agg)"].join("\u0000"), // jsonArrayFrom
  ["(select to_json(obj) from ", " as obj)"].join("\u0000"), // jsonObjectFrom
  ["json_build_object(", ")"].join("\u0000"), // jsonBuildObject
]);

const analyses = new WeakMap<RootOperationNode, QueryAnalysis>();

/** Analyse a compiled statement's operation tree (memoised per node: builders reuse their nodes). */
export function analyzeQuery(node: RootOperationNode): QueryAnalysis {
  let analysis = analyses.get(node);
  if (analysis === undefined) {
    analysis = new TableCollector().analyze(node);
    analyses.set(node, analysis);
  }
  return analysis;
}

class TableCollector {
  readonly #tables = new Map<string, QueryTable>();
  readonly #writes = new Map<string, QueryTable>();
  /** CTE names visible at the current point of the walk, innermost scope last. */
  readonly #scopes: Set<string>[] = [];
  #opaque = false;
  #locking = false;
  #explain = false;

  analyze(root: RootOperationNode): QueryAnalysis {
    this.#visit(root);
    this.#collectDdlTargets(root);
    const writes = [...this.#writes.values()];
    let uncacheable: QueryAnalysis["uncacheable"];
    if (writes.length > 0 || MUTATION_KINDS.has(root.kind)) uncacheable = "write";
    else if (!READ_ROOT_KINDS.has(root.kind)) uncacheable = "not-a-query";
    else if (this.#locking) uncacheable = "locking";
    else if (this.#explain) uncacheable = "explain";
    return Object.freeze({
      kind: root.kind,
      tables: Object.freeze([...this.#tables.values()]),
      writes: Object.freeze(writes),
      opaque: this.#opaque,
      uncacheable,
    });
  }

  #visit(node: OperationNode): void {
    switch (node.kind) {
      case "TableNode":
        this.#addTable(node as TableNode);
        return;
      case "ReferenceNode":
        // `u.id`: the table part qualifies a column by a table or alias already in FROM; not a dependency.
        this.#visit((node as unknown as { column: OperationNode }).column);
        return;
      case "AliasNode":
        // The alias is a name, never a relation.
        this.#visit((node as AliasNode).node);
        return;
      case "RawNode":
        this.#visitRaw(node as RawNode, false);
        return;
      case "FromNode":
        for (const from of (node as unknown as { froms: readonly OperationNode[] }).froms)
          this.#visitRelation(from);
        return;
      case "UsingNode":
        for (const table of (node as unknown as { tables: readonly OperationNode[] }).tables)
          this.#visitRelation(table);
        return;
      case "JoinNode": {
        const join = node as unknown as { table: OperationNode; on?: OperationNode };
        this.#visitRelation(join.table);
        if (join.on) this.#visit(join.on);
        return;
      }
      case "SelectModifierNode": {
        const modifier = node as SelectModifierNode;
        if (modifier.modifier !== undefined && LOCKING_MODIFIERS.has(modifier.modifier)) this.#locking = true;
        // `for update of u` names FROM items, not new relations.
        if (modifier.rawModifier) this.#visit(modifier.rawModifier);
        return;
      }
      case "ExplainNode":
        this.#explain = true;
        return;
      case "CommonTableExpressionNameNode":
        return;
    }
    if (VALUE_KINDS.has(node.kind)) return;
    if (MUTATION_KINDS.has(node.kind)) this.#collectMutationTargets(node);
    const withNode = (node as { with?: WithNode }).with;
    if (withNode !== undefined && withNode.kind === "WithNode") {
      this.#visitWithScope(node, withNode);
      return;
    }
    this.#visitChildren(node, undefined);
  }

  /** Visit every child node generically, so any node kind (present or future) is searched for tables. */
  #visitChildren(node: OperationNode, skip: string | undefined): void {
    const fields = node as unknown as Record<string, unknown>;
    for (const key in fields) {
      if (key === "kind" || key === skip) continue;
      const value = fields[key];
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) this.#visit(item);
      } else if (isNode(value)) {
        this.#visit(value);
      }
    }
  }

  /**
   * A statement with a WITH clause: a CTE's name hides a table of the same unqualified name in the
   * statement and in later CTEs (in every CTE, itself included, when RECURSIVE).
   */
  #visitWithScope(node: OperationNode, withNode: WithNode): void {
    const scope = new Set<string>();
    this.#scopes.push(scope);
    const expressions: readonly CommonTableExpressionNode[] = withNode.expressions;
    if (withNode.recursive) for (const cte of expressions) scope.add(cteName(cte));
    for (const cte of expressions) {
      this.#visit(cte.expression);
      scope.add(cteName(cte));
    }
    this.#visitChildren(node, "with");
    this.#scopes.pop();
  }

  /** A FROM / JOIN / USING item: the place where a relation is named. */
  #visitRelation(node: OperationNode): void {
    const inner = node.kind === "AliasNode" ? (node as AliasNode).node : node;
    if (inner.kind === "RawNode") this.#visitRaw(inner as RawNode, true);
    else this.#visit(inner);
  }

  #visitRaw(node: RawNode, asRelation: boolean): void {
    if (!isTransparentRaw(node, asRelation)) this.#opaque = true;
    // `sql.table("x")` and subqueries inside a fragment still count.
    for (const parameter of node.parameters) {
      if (parameter.kind === "RawNode") this.#visitRaw(parameter as RawNode, asRelation);
      else this.#visit(parameter);
    }
  }

  #addTable(node: TableNode): void {
    const table = tableOf(node.table);
    if (table.schema === undefined && this.#inCteScope(table.table)) return;
    this.#tables.set(tableKey(table), table);
  }

  #inCteScope(name: string): boolean {
    for (let i = this.#scopes.length - 1; i >= 0; i--) if (this.#scopes[i]?.has(name)) return true;
    return false;
  }

  #collectMutationTargets(node: OperationNode): void {
    const fields = node as unknown as Record<string, OperationNode | undefined>;
    switch (node.kind) {
      case "InsertQueryNode":
      case "MergeQueryNode":
        this.#addWrite(fields.into);
        break;
      case "UpdateQueryNode":
        this.#addWrite(fields.table);
        break;
      case "DeleteQueryNode":
        for (const from of (fields.from as unknown as { froms?: readonly OperationNode[] } | undefined)
          ?.froms ?? []) {
          this.#addWrite(from);
        }
        break;
    }
  }

  /** DDL that changes what cached reads of a relation would return: ALTER/DROP TABLE, views, REFRESH. */
  #collectDdlTargets(root: RootOperationNode): void {
    switch (root.kind) {
      case "AlterTableNode":
        this.#addWrite(root.table);
        if (root.renameTo) this.#addWrite(root.renameTo);
        break;
      case "DropTableNode":
        this.#addWrite(root.table);
        break;
      case "CreateViewNode":
      case "DropViewNode":
      case "RefreshMaterializedViewNode": {
        const table = tableOf(root.name);
        this.#writes.set(tableKey(table), table);
        break;
      }
    }
  }

  /** A write target: a table, possibly aliased (`update users as u`), or a list of them (MySQL). */
  #addWrite(node: OperationNode | undefined): void {
    if (node === undefined) return;
    if (node.kind === "TableNode") {
      const table = tableOf((node as TableNode).table);
      this.#writes.set(tableKey(table), table);
    } else if (node.kind === "AliasNode") {
      this.#addWrite((node as AliasNode).node);
    } else if (node.kind === "ListNode") {
      for (const item of (node as unknown as { items: readonly OperationNode[] }).items) this.#addWrite(item);
    }
  }
}

function isTransparentRaw(node: RawNode, asRelation: boolean): boolean {
  if (!KNOWN_HELPER_FRAGMENTS.has(node.sqlFragments.join("\u0000"))) {
    for (const fragment of node.sqlFragments) if (!NEUTRAL_SQL_TEXT.test(fragment)) return false;
  }
  // In FROM position, `sql.id("users")` or `sql.ref("users")` would name a relation we cannot resolve.
  if (asRelation) {
    for (const parameter of node.parameters) {
      if (parameter.kind === "IdentifierNode" || parameter.kind === "ReferenceNode") return false;
    }
  }
  return true;
}

function isNode(value: unknown): value is OperationNode {
  return (
    typeof value === "object" && value !== null && typeof (value as { kind?: unknown }).kind === "string"
  );
}

function tableOf(identifier: SchemableIdentifierNode): QueryTable {
  return { schema: identifier.schema?.name, table: identifier.identifier.name };
}

function tableKey(table: QueryTable): string {
  return table.schema === undefined ? `\u0000${table.table}` : `${table.schema}\u0000${table.table}`;
}

function cteName(cte: CommonTableExpressionNode): string {
  return cte.name.table.table.identifier.name;
}

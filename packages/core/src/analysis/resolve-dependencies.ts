import type { RowConstraint, RowWrite } from "../engine/statement-analysis.js";
import type { TableRef } from "../events/table-name.js";
import { classifyBuiltin, type Volatility } from "./builtin-functions.js";
import type { CatalogFunction, CatalogRelation, CatalogSnapshot } from "./catalog-snapshot.js";
import type { AnalyzeContext, StatementDependencies } from "./dependencies.js";
import { rowWrite, sideEffects } from "./resolve-writes.js";
import { parseSearchPath, USER_SCHEMA } from "./search-path.js";
import type { FunctionName, OperatorName, RelationName, StatementFacts } from "./statement-facts.js";
import { viewDefinitionFacts } from "./view-definitions.js";

const CATALOG_SCHEMA = "pg_catalog";

function isSystemSchema(schema: string): boolean {
  return schema === CATALOG_SCHEMA || schema === "information_schema" || schema.startsWith("pg_toast");
}

function isTemporarySchema(schema: string): boolean {
  return schema === "pg_temp" || /^pg_temp_\d+$/.test(schema);
}

/**
 * A function outside pg_catalog is trusted to read no table only when it is IMMUTABLE, written in
 * C (or internal) and installed by an extension (citext's operators, pg_trgm's similarity()).
 * Anything else, in any language, may run queries.
 */
function isTrustedUserFunction(fn: CatalogFunction): boolean {
  return fn.volatility === "i" && fn.fromExtension && (fn.language === "c" || fn.language === "internal");
}

function acceptsArity(fn: CatalogFunction, call: FunctionName): boolean {
  if (call.variadicArray) return fn.variadic && call.argCount === fn.argCount;
  if (fn.variadic && call.argCount >= fn.argCount - 1) return true;
  return call.argCount <= fn.argCount && call.argCount >= fn.argCount - fn.defaultCount;
}

/** The search path as PostgreSQL applies it: pg_catalog first unless listed, `"$user"` kept as a step. */
function effectivePath(raw: string): string[] {
  const entries = parseSearchPath(raw);
  return entries.includes(CATALOG_SCHEMA) ? entries : [CATALOG_SCHEMA, ...entries];
}

/** The outcome of resolving one statement's facts against one catalog snapshot. */
export type Resolution =
  | { readonly complete: true; readonly dependencies: StatementDependencies }
  | { readonly complete: false; readonly unknown: string };

function tableKey(schema: string, table: string): string {
  return `${schema}\u0000${table}`;
}

class Resolver {
  private readonly reads = new Map<string, TableRef>();
  private readonly writes = new Map<string, TableRef>();
  /** The relations behind `writes`, for what the catalog says their writes change. */
  private readonly written = new Map<string, CatalogRelation>();
  /** How many ways each table is read (directly, through a view, as an ancestor): a row constraint needs exactly one. */
  private readonly readCounts = new Map<string, number>();
  private opaque: string | undefined;
  private sessionDependent: string | undefined;
  /** Names the snapshot does not know; `opaque`: the statement cannot be resolved without them. */
  private readonly unknowns: { readonly what: string; readonly opaque: boolean }[] = [];
  private readonly path: string[];
  private readonly user: string;
  private readonly userGiven: boolean;

  constructor(
    private readonly snapshot: CatalogSnapshot,
    context: AnalyzeContext | undefined,
  ) {
    this.path = effectivePath(context?.searchPath ?? snapshot.searchPath);
    this.user = context?.user ?? snapshot.currentUser;
    this.userGiven = context?.user !== undefined;
  }

  private markOpaque(reason: string): void {
    this.opaque ??= reason;
  }

  private markSession(reason: string): void {
    this.sessionDependent ??= reason;
  }

  private markUnknown(what: string, opaque = true): void {
    this.unknowns.push({ what, opaque });
  }

  /**
   * Schemas of the path in order, `"$user"` replaced by the role's schema, missing ones left out.
   * (Functions and operators are never looked up in pg_temp unless qualified.)
   */
  private pathSchemas(): string[] {
    const out: string[] = [];
    for (const entry of this.path) {
      const schema = entry === USER_SCHEMA ? this.user : entry;
      if (this.snapshot.schemas.has(schema)) out.push(schema);
    }
    return out;
  }

  private findRelation(rel: RelationName, write: boolean): CatalogRelation | undefined {
    const display = rel.schema === undefined ? rel.name : `${rel.schema}.${rel.name}`;
    if (rel.schema !== undefined) {
      if (isTemporarySchema(rel.schema)) {
        if (!write) this.markOpaque(`temporary table ${display}`);
        return undefined;
      }
      if (isSystemSchema(rel.schema)) {
        if (!write) this.markOpaque(`system catalog ${display}`);
        return undefined;
      }
      const found = this.snapshot.relation(rel.schema, rel.name);
      if (!found) this.markUnknown(`relation ${display}`);
      return found;
    }
    // Temporary tables come first in every session's path: a temp table of this name wins there.
    const temporary = this.snapshot.hasTemporary(rel.name);
    if (temporary && !write) this.markOpaque(`temporary table ${rel.name}`);
    for (const entry of this.path) {
      let schema = entry;
      if (entry === USER_SCHEMA) {
        if (!this.userGiven && !write) this.checkOtherRoles(rel.name);
        schema = this.user;
      }
      const found = this.snapshot.relation(schema, rel.name);
      if (!found) continue;
      if (isSystemSchema(found.schema)) {
        if (!write) this.markOpaque(`system catalog ${found.schema}.${found.name}`);
        return undefined;
      }
      return found;
    }
    if (!temporary) this.markUnknown(`relation ${display}`);
    return undefined;
  }

  /**
   * Without the connection's role, `"$user"` may mean any role's schema: when one of them holds
   * the name (the catalog role's own included: another role would not resolve there), the answer
   * depends on the role.
   */
  private checkOtherRoles(name: string): void {
    const schema = this.snapshot.roleSchemas.find((s) => this.snapshot.relation(s, name) !== undefined);
    if (schema !== undefined) {
      this.markSession(`${name} resolves through "$user" differently per role (schema ${schema})`);
    }
  }

  private addTable(target: Map<string, TableRef>, rel: CatalogRelation): void {
    const key = tableKey(rel.schema, rel.name);
    if (!target.has(key)) target.set(key, { schema: rel.schema, table: rel.name });
    if (target === this.reads) this.readCounts.set(key, (this.readCounts.get(key) ?? 0) + 1);
  }

  private readTable(rel: CatalogRelation, descendants: boolean): void {
    this.addTable(this.reads, rel);
    if (rel.rowSecurity) this.markSession(`row-level security on ${rel.schema}.${rel.name}`);
    if (descendants) {
      for (const child of this.snapshot.children(rel.oid)) {
        const childRel = this.snapshot.relationByOid(child);
        if (!childRel) continue;
        // A foreign partition's rows change where no trigger or WAL of ours can see them.
        if (childRel.kind === "f") this.markOpaque(`foreign table ${childRel.schema}.${childRel.name}`);
        this.readTable(childRel, true);
      }
    }
  }

  private readAncestors(rel: CatalogRelation): void {
    for (const parent of this.snapshot.parents(rel.oid)) {
      const parentRel = this.snapshot.relationByOid(parent);
      if (!parentRel) continue;
      this.addTable(this.reads, parentRel);
      this.readAncestors(parentRel);
    }
  }

  private expandRead(rel: CatalogRelation, inh: boolean, views: Set<string>): void {
    const display = `${rel.schema}.${rel.name}`;
    if (isSystemSchema(rel.schema)) {
      this.markOpaque(`system catalog ${display}`);
      return;
    }
    switch (rel.kind) {
      case "r":
      case "p":
        this.readTable(rel, inh);
        this.readAncestors(rel);
        return;
      case "v": {
        if (views.has(rel.oid)) return;
        views.add(rel.oid);
        const refs = this.snapshot.ruleReferences(rel.oid, false);
        for (const oid of refs.relations) {
          const base = this.snapshot.relationByOid(oid);
          // A view's definition does not record ONLY: count the children in.
          if (base) this.expandRead(base, true, views);
        }
        for (const oid of refs.functions) {
          const fn = this.snapshot.functionByOid(oid);
          if (fn) this.judgeFunctions([fn], fn.argCount, `view ${display} calls `);
        }
        this.viewDefinition(rel, display);
        return;
      }
      case "m":
        this.markOpaque(`materialized view ${display}`);
        return;
      case "f":
        this.markOpaque(`foreign table ${display}`);
        return;
      case "S":
        this.markOpaque(`sequence ${display}`);
        return;
      default:
        this.markOpaque(`relation ${display} of kind ${rel.kind}`);
    }
  }

  /** What only the view's text shows: built-in calls, `CURRENT_TIMESTAMP`, locking, ... */
  private viewDefinition(view: CatalogRelation, display: string): void {
    const facts = viewDefinitionFacts(this.snapshot, view);
    if (!facts) {
      this.markOpaque(`view ${display} has a definition the analyzer cannot read`);
      return;
    }
    const prefix = `view ${display}: `;
    if (facts.opaque) this.markOpaque(prefix + facts.opaque);
    if (facts.sessionDependent) this.markSession(prefix + facts.sessionDependent);
    // The definition was printed under an empty search_path: unqualified means pg_catalog.
    for (const fn of facts.functions) this.call(fn, [CATALOG_SCHEMA], prefix);
    for (const op of facts.operators) this.operator(op, [], prefix);
  }

  private expandWrite(rel: CatalogRelation, inh: boolean, views: Set<string>): void {
    switch (rel.kind) {
      case "r":
      case "p":
      case "f": {
        this.addTable(this.writes, rel);
        this.written.set(rel.oid, rel);
        if (!inh) return;
        for (const child of this.snapshot.children(rel.oid)) {
          const childRel = this.snapshot.relationByOid(child);
          if (childRel) this.expandWrite(childRel, true, views);
        }
        return;
      }
      case "v": {
        if (views.has(rel.oid)) return;
        views.add(rel.oid);
        // Every rule counts: an auto-updatable view writes its base table, a rule may write others.
        for (const oid of this.snapshot.ruleReferences(rel.oid, true).relations) {
          const base = this.snapshot.relationByOid(oid);
          if (base) this.expandWrite(base, true, views);
        }
        return;
      }
    }
  }

  private judgeFunctions(candidates: readonly CatalogFunction[], argCount: number, prefix = ""): void {
    for (const fn of candidates) {
      if (fn.schema !== CATALOG_SCHEMA && !isTrustedUserFunction(fn)) {
        this.markOpaque(`${prefix}user function ${fn.schema}.${fn.name}() may read tables`);
        return;
      }
    }
    const builtins = candidates.filter((fn) => fn.schema === CATALOG_SCHEMA);
    const first = builtins[0];
    if (!first) return;
    const volatility: Volatility = builtins.some((fn) => fn.volatility === "v")
      ? "v"
      : builtins.some((fn) => fn.volatility === "s")
        ? "s"
        : "i";
    const verdict = classifyBuiltin(first.name, argCount, volatility);
    if (verdict.opaque) this.markOpaque(`${prefix}${verdict.opaque}`);
    if (verdict.sessionDependent) this.markSession(`${prefix}${verdict.sessionDependent}`);
  }

  private call(fn: FunctionName, unqualifiedPath = this.pathSchemas(), prefix = ""): void {
    const display = fn.schema === undefined ? fn.name : `${fn.schema}.${fn.name}`;
    if (fn.schema !== undefined && isTemporarySchema(fn.schema)) {
      this.markOpaque(`${prefix}temporary function ${display}()`);
      return;
    }
    const schemas = fn.schema !== undefined ? [fn.schema] : unqualifiedPath;
    const candidates = schemas.flatMap((s) => this.snapshot.functions(s, fn.name));
    if (candidates.length === 0) {
      this.markUnknown(`function ${display}()`);
      return;
    }
    const fitting = candidates.filter((c) => acceptsArity(c, fn));
    this.judgeFunctions(fitting.length > 0 ? fitting : candidates, fn.argCount, prefix);
  }

  private operator(op: OperatorName, unqualifiedPath = this.pathSchemas(), prefix = ""): void {
    const schemas = op.schema !== undefined ? [op.schema] : unqualifiedPath;
    for (const schema of schemas) {
      if (schema === CATALOG_SCHEMA) continue;
      for (const oid of this.snapshot.userOperators(schema, op.name)) {
        const fn = this.snapshot.functionByOid(oid);
        if (fn) this.judgeFunctions([fn], fn.argCount, `${prefix}operator ${schema}.${op.name}: `);
      }
    }
  }

  /**
   * The row constraints the catalog confirms: the name resolves to an ordinary table without
   * children, read as itself (not through a view), and the column compares by its text form.
   * Per table the first constraint on a key column wins, else the first one.
   */
  private rowReads(facts: StatementFacts): RowConstraint[] {
    const chosen = new Map<string, { constraint: RowConstraint; isKey: boolean }>();
    for (const candidate of facts.rowCandidates ?? []) {
      const { occurrence } = candidate;
      const rel = this.findRelation(
        { schema: occurrence.schema, name: occurrence.name, inh: occurrence.inh },
        false,
      );
      if (!rel || rel.kind !== "r" || rel.temporary || this.snapshot.hasChildren(rel)) continue;
      const column = this.snapshot.constrainableColumn(rel, candidate.column);
      if (!column) continue;
      const key = tableKey(rel.schema, rel.name);
      // Also read through a view or as a partition's ancestor: those rows are not filtered.
      if (this.readCounts.get(key) !== 1) continue;
      const previous = chosen.get(key);
      if (previous && (previous.isKey || !column.isKey)) continue;
      chosen.set(key, {
        constraint: {
          table: { schema: rel.schema, table: rel.name },
          column: candidate.column,
          type: column.family,
          values: candidate.values,
        },
        isKey: column.isKey,
      });
    }
    return [...chosen.values()].map((c) => c.constraint);
  }

  /**
   * Add what the writes change besides their targets (foreign-key actions, rules), and name the
   * rows of a single ordinary target where the statement can (read-your-writes per row).
   */
  private resolveWrites(facts: StatementFacts): RowWrite[] {
    if (this.written.size === 0) return [];
    const targets = [...this.written.values()];
    const extra = sideEffects(
      this.snapshot,
      targets,
      facts.kind,
      facts.writeCandidate,
      facts.truncateCascade === true,
    );
    for (const rel of extra) this.expandWrite(rel, true, new Set());
    const candidate = facts.writeCandidate;
    const target = targets[0];
    if (candidate === undefined || targets.length !== 1 || target === undefined) return [];
    if (extra.some((rel) => rel.oid === target.oid)) return [];
    // The text names the target's columns only when it writes the table itself (not through a view).
    const named = this.findRelation(
      { schema: candidate.target.schema, name: candidate.target.name, inh: candidate.target.inh },
      true,
    );
    if (named?.oid !== target.oid) return [];
    const found = rowWrite(this.snapshot, target, candidate);
    return found === undefined ? [] : [found];
  }

  resolve(facts: StatementFacts, final: boolean): Resolution {
    this.opaque = facts.opaque;
    this.sessionDependent = facts.sessionDependent;
    for (const rel of facts.reads) {
      const found = this.findRelation(rel, false);
      if (found) this.expandRead(found, rel.inh, new Set());
    }
    for (const rel of facts.writes) {
      const found = this.findRelation(rel, true);
      if (found) this.expandWrite(found, rel.inh, new Set());
    }
    const rowWrites = this.resolveWrites(facts);
    for (const fn of facts.functions) this.call(fn);
    for (const op of facts.operators) this.operator(op);
    // A schema of the path that does not exist may have been created since the snapshot.
    for (const entry of this.path) {
      if (entry !== USER_SCHEMA && entry !== "pg_temp" && !this.snapshot.schemas.has(entry)) {
        this.markUnknown(`schema ${entry}`, false);
      }
    }
    // Only what this snapshot has not already confirmed absent is worth a reload.
    const pending = this.unknowns.find((u) => !this.snapshot.isConfirmedAbsent(u.what));
    if (pending && !final) return { complete: false, unknown: pending.what };
    for (const u of this.unknowns) {
      this.snapshot.confirmAbsent(u.what);
      if (u.opaque) this.markOpaque(`unknown ${u.what}`);
    }
    const rowReads = this.opaque === undefined ? this.rowReads(facts) : [];
    return {
      complete: true,
      dependencies: {
        reads: [...this.reads.values()],
        ...(rowReads.length > 0 ? { rowReads } : {}),
        writes: [...this.writes.values()],
        ...(rowWrites.length > 0 ? { rowWrites } : {}),
        opaque: this.opaque,
        sessionDependent: this.sessionDependent,
        transaction: facts.transaction,
        ...(facts.chained ? { chained: true as const } : {}),
        kind: facts.kind,
        ...(facts.schemaChange ? { schemaChange: true as const } : {}),
      },
    };
  }
}

/**
 * Give one statement's facts their meaning in a catalog snapshot. With `final` false a name the
 * snapshot does not know stops the resolution (the caller reloads the catalog and tries again);
 * with `final` true it makes the statement opaque.
 */
export function resolveDependencies(
  facts: StatementFacts,
  snapshot: CatalogSnapshot,
  context: AnalyzeContext | undefined,
  final: boolean,
): Resolution {
  return new Resolver(snapshot, context).resolve(facts, final);
}

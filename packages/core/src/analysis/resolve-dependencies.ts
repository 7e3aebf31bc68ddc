import type { TableRef } from "../events/table-name.js";
import { classifyBuiltin } from "./builtin-functions.js";
import type { CatalogFunction, CatalogRelation, CatalogSnapshot } from "./catalog-snapshot.js";
import type { AnalyzeContext, StatementDependencies } from "./dependencies.js";
import { parseSearchPath, USER_SCHEMA } from "./search-path.js";
import type { FunctionName, OperatorName, RelationName, StatementFacts } from "./statement-facts.js";

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
  private opaque: string | undefined;
  private sessionDependent: string | undefined;
  private unknown: string | undefined;
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

  private markUnknown(what: string): void {
    this.unknown ??= what;
  }

  /** Schemas of the path in order, `"$user"` replaced by the role's schema, missing ones left out. */
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

  /** `"$user"` means another schema for another role: would one of those capture the name? */
  private checkOtherRoles(name: string): void {
    const other = this.snapshot.roleSchemas.find(
      (schema) => schema !== this.user && this.snapshot.relation(schema, name) !== undefined,
    );
    if (other) this.markSession(`${name} resolves through "$user" to a different schema per role (${other})`);
  }

  private addTable(target: Map<string, TableRef>, rel: CatalogRelation): void {
    const key = tableKey(rel.schema, rel.name);
    if (!target.has(key)) target.set(key, { schema: rel.schema, table: rel.name });
  }

  private readTable(rel: CatalogRelation, descendants: boolean): void {
    this.addTable(this.reads, rel);
    if (rel.rowSecurity) this.markSession(`row-level security on ${rel.schema}.${rel.name}`);
    if (descendants) {
      for (const child of this.snapshot.children(rel.oid)) {
        const childRel = this.snapshot.relationByOid(child);
        if (childRel) this.readTable(childRel, true);
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

  private expandWrite(rel: CatalogRelation, inh: boolean, views: Set<string>): void {
    switch (rel.kind) {
      case "r":
      case "p":
      case "f": {
        this.addTable(this.writes, rel);
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
    const verdict = classifyBuiltin(
      first.name,
      argCount,
      builtins.some((fn) => fn.volatility === "v"),
    );
    if (verdict.opaque) this.markOpaque(`${prefix}${verdict.opaque}`);
    if (verdict.sessionDependent) this.markSession(`${prefix}${verdict.sessionDependent}`);
  }

  private functionSchemas(schema: string | undefined): string[] {
    if (schema !== undefined) return [schema];
    // Functions and operators are never looked up in pg_temp unless qualified.
    return this.pathSchemas();
  }

  private call(fn: FunctionName): void {
    const display = fn.schema === undefined ? fn.name : `${fn.schema}.${fn.name}`;
    if (fn.schema !== undefined && isTemporarySchema(fn.schema)) {
      this.markOpaque(`temporary function ${display}()`);
      return;
    }
    const candidates = this.functionSchemas(fn.schema).flatMap((s) => this.snapshot.functions(s, fn.name));
    if (candidates.length === 0) {
      this.markUnknown(`function ${display}()`);
      return;
    }
    const fitting = candidates.filter((c) => acceptsArity(c, fn));
    this.judgeFunctions(fitting.length > 0 ? fitting : candidates, fn.argCount);
  }

  private operator(op: OperatorName): void {
    if (op.schema === CATALOG_SCHEMA) return;
    for (const schema of this.functionSchemas(op.schema)) {
      if (schema === CATALOG_SCHEMA) continue;
      for (const oid of this.snapshot.userOperators(schema, op.name)) {
        const fn = this.snapshot.functionByOid(oid);
        if (fn) this.judgeFunctions([fn], fn.argCount, `operator ${schema}.${op.name}: `);
      }
    }
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
    for (const fn of facts.functions) this.call(fn);
    for (const op of facts.operators) this.operator(op);
    if (this.unknown !== undefined) {
      if (!final) return { complete: false, unknown: this.unknown };
      this.markOpaque(`unknown ${this.unknown}`);
    }
    return {
      complete: true,
      dependencies: {
        reads: [...this.reads.values()],
        writes: [...this.writes.values()],
        opaque: this.opaque,
        sessionDependent: this.sessionDependent,
        transaction: facts.transaction,
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

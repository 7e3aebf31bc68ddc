import type pg from "pg";
import { CatalogLoadError } from "./errors.js";

/** A relation of pg_class the analyzer may meet in a query. */
export interface CatalogRelation {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** pg_class.relkind: r table, p partitioned, v view, m materialized view, f foreign, S sequence. */
  readonly kind: string;
  readonly temporary: boolean;
  readonly rowSecurity: boolean;
  /** A view's definition (pg_get_viewdef), every name outside pg_catalog qualified. */
  readonly definition: string | undefined;
}

/** A function of pg_proc (aggregates and window functions included). */
export interface CatalogFunction {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** pg_proc.provolatile: i immutable, s stable, v volatile. */
  readonly volatility: string;
  readonly argCount: number;
  readonly defaultCount: number;
  readonly variadic: boolean;
  readonly language: string;
  /** Part of an extension (pg_depend deptype 'e'). */
  readonly fromExtension: boolean;
}

/** What a view's rules reference: relations and functions (operators already mapped to theirs). */
export interface RuleReferences {
  readonly relations: readonly string[];
  readonly functions: readonly string[];
}

function nameKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * One consistent read of the catalog tables that decide what a query's names mean. Read in one
 * round trip inside a read-only REPEATABLE READ transaction, so the parts agree with each other.
 */
const SNAPSHOT_SQL = `
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_catalog.current_user() AS current_user, pg_catalog.current_setting('search_path') AS search_path;
-- An empty path makes pg_get_viewdef() qualify every name outside pg_catalog.
SET LOCAL search_path = '';
SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       c.relpersistence = 't' AS temporary, c.relrowsecurity AS row_security,
       CASE WHEN c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S');
SELECT inhrelid::text AS child, inhparent::text AS parent FROM pg_catalog.pg_inherits;
SELECT DISTINCT r.ev_class::text AS view, r.rulename = '_RETURN' AS is_select,
       CASE WHEN d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass THEN 'r' ELSE 'f' END AS ref_kind,
       CASE WHEN d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass
            THEN (SELECT o.oprcode::oid::text FROM pg_catalog.pg_operator o WHERE o.oid = d.refobjid)
            ELSE d.refobjid::text END AS ref
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
 WHERE d.refclassid IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass,
                        'pg_catalog.pg_operator'::pg_catalog.regclass)
   AND d.refobjid <> r.ev_class;
SELECT p.oid::text AS oid, n.nspname AS schema, p.proname AS name, p.provolatile AS volatility,
       p.pronargs AS arg_count, p.pronargdefaults AS default_count, p.provariadic <> 0 AS variadic,
       l.lanname AS language,
       EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                WHERE e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND e.objid = p.oid
                  AND e.deptype = 'e') AS from_extension
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_language l ON l.oid = p.prolang;
SELECT n.nspname AS schema, o.oprname AS name, o.oprcode::oid::text AS function
  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
 WHERE n.nspname <> 'pg_catalog';
SELECT n.nspname AS schema, EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = n.nspname) AS is_role
  FROM pg_catalog.pg_namespace n;
-- Columns whose equality is equality of their text form (row constraints): integers, uuid, and
-- text under a deterministic collation. Key columns first, so a constraint prefers them.
SELECT a.attrelid::text AS rel, a.attname AS name,
       CASE WHEN a.atttypid IN (20, 21, 23) THEN 'int' WHEN a.atttypid = 2950 THEN 'uuid' ELSE 'text' END AS family,
       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                WHERE k.conrelid = a.attrelid AND k.contype IN ('p', 'f') AND a.attnum = ANY (k.conkey)) AS is_key,
       a.attgenerated <> '' AS generated
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind = 'r'
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_collation coll ON coll.oid = a.attcollation
 WHERE a.attnum > 0 AND NOT a.attisdropped
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND (a.atttypid IN (20, 21, 23, 2950)
        OR (a.atttypid IN (25, 1043) AND (coll.oid IS NULL OR coll.collisdeterministic)));
-- Tables whose writes run the user's code (triggers other than pgcachewatch's own, rules): what
-- such a write changes is more than its text names.
SELECT t.tgrelid::pg_catalog.text AS rel
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE NOT t.tgisinternal AND n.nspname <> 'pgcachewatch'
UNION
SELECT r.ev_class::pg_catalog.text FROM pg_catalog.pg_rewrite r WHERE r.rulename <> '_RETURN';
-- Foreign keys: their actions write the referencing table when the referenced one changes, and
-- TRUNCATE ... CASCADE empties every referencing table.
SELECT k.confrelid::pg_catalog.text AS parent, k.conrelid::pg_catalog.text AS child,
       k.confdeltype AS on_delete, k.confupdtype AS on_update,
       ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = k.confrelid AND a.attnum = ANY (k.confkey)) AS columns
  FROM pg_catalog.pg_constraint k
 WHERE k.contype = 'f';
COMMIT;
`;

interface SessionRow {
  current_user: string;
  search_path: string;
}
interface RelationRow {
  oid: string;
  schema: string;
  name: string;
  kind: string;
  temporary: boolean;
  row_security: boolean;
  definition: string | null;
}
interface InheritsRow {
  child: string;
  parent: string;
}
interface RuleRow {
  view: string;
  is_select: boolean;
  ref_kind: "r" | "f";
  ref: string | null;
}
interface FunctionRow {
  oid: string;
  schema: string;
  name: string;
  volatility: string;
  arg_count: number;
  default_count: number;
  variadic: boolean;
  language: string;
  from_extension: boolean;
}
interface OperatorRow {
  schema: string;
  name: string;
  function: string;
}
interface ColumnRow {
  readonly rel: string;
  readonly name: string;
  readonly family: "int" | "uuid" | "text";
  readonly is_key: boolean;
  readonly generated?: boolean;
}

/** A column a row constraint may use (see row-constraints.ts). */
export interface ConstrainableColumn {
  readonly family: "int" | "uuid" | "text";
  /** Part of a primary or foreign key: change events carry its values. */
  readonly isKey: boolean;
  /** A generated column: an UPDATE of the columns it is computed from changes it. */
  readonly generated: boolean;
}

interface WriteHookRow {
  readonly rel: string;
}

interface ForeignKeyActionRow {
  readonly parent: string;
  readonly child: string;
  readonly on_delete: string;
  readonly on_update: string;
  readonly columns: readonly string[];
}

/** A foreign key referencing a table: what its ON DELETE / ON UPDATE actions do to the referencing table. */
export interface ForeignKeyAction {
  readonly child: string;
  /** What deleting a referenced row does to the referencing rows: deletes them (CASCADE) or updates them (SET NULL / DEFAULT). */
  readonly onDelete: "delete" | "update" | undefined;
  /** Updating a referenced key updates the referencing rows. */
  readonly onUpdate: boolean;
  /** The referenced columns: an UPDATE cascades only when it assigns one of them. */
  readonly columns: readonly string[];
}

interface NamespaceRow {
  schema: string;
  is_role: boolean;
}

/**
 * A picture of the catalog, indexed for name resolution. Immutable but for the names a reload
 * already failed to find (so the same unknown name does not reload again).
 */
export class CatalogSnapshot {
  /** The catalog connection's role: what `"$user"` means when the caller does not say. */
  readonly currentUser: string;
  /** The catalog connection's search_path: the default when the caller does not give one. */
  readonly searchPath: string;
  readonly schemas: ReadonlySet<string>;
  /** Schemas named after a role: what `"$user"` can mean for some role. */
  readonly roleSchemas: readonly string[];
  private readonly relationsByName = new Map<string, CatalogRelation>();
  private readonly relationsByOid = new Map<string, CatalogRelation>();
  private readonly temporaryNames = new Set<string>();
  private readonly childrenOf = new Map<string, string[]>();
  private readonly parentsOf = new Map<string, string[]>();
  private readonly selectRules = new Map<string, { relations: string[]; functions: string[] }>();
  private readonly allRules = new Map<string, { relations: string[]; functions: string[] }>();
  private readonly functionsByName = new Map<string, CatalogFunction[]>();
  private readonly functionsByOid = new Map<string, CatalogFunction>();
  private readonly operatorsByName = new Map<string, string[]>();
  private readonly columnsByRelation = new Map<string, Map<string, ConstrainableColumn>>();
  private readonly writeHooks = new Set<string>();
  private readonly foreignKeyActions = new Map<string, ForeignKeyAction[]>();
  /** Names a reload did not find: asking again would not find them in this snapshot either. */
  private readonly confirmedAbsent = new Set<string>();

  constructor(rows: {
    session: SessionRow;
    relations: readonly RelationRow[];
    inherits: readonly InheritsRow[];
    rules: readonly RuleRow[];
    functions: readonly FunctionRow[];
    operators: readonly OperatorRow[];
    namespaces: readonly NamespaceRow[];
    columns?: readonly ColumnRow[];
    writeHooks?: readonly WriteHookRow[];
    foreignKeyActions?: readonly ForeignKeyActionRow[];
  }) {
    for (const hook of rows.writeHooks ?? []) this.writeHooks.add(hook.rel);
    for (const k of rows.foreignKeyActions ?? []) {
      const action = (type: string) => type === "c" || type === "n" || type === "d";
      pushTo(this.foreignKeyActions, k.parent, {
        child: k.child,
        onDelete: k.on_delete === "c" ? "delete" : action(k.on_delete) ? "update" : undefined,
        onUpdate: action(k.on_update),
        columns: k.columns,
      });
    }
    for (const c of rows.columns ?? []) {
      let columns = this.columnsByRelation.get(c.rel);
      if (!columns) {
        columns = new Map();
        this.columnsByRelation.set(c.rel, columns);
      }
      columns.set(c.name, { family: c.family, isKey: c.is_key, generated: c.generated === true });
    }
    this.currentUser = rows.session.current_user;
    this.searchPath = rows.session.search_path;
    this.schemas = new Set(rows.namespaces.map((n) => n.schema));
    this.roleSchemas = rows.namespaces.filter((n) => n.is_role).map((n) => n.schema);
    for (const r of rows.relations) {
      const rel: CatalogRelation = {
        oid: r.oid,
        schema: r.schema,
        name: r.name,
        kind: r.kind,
        temporary: r.temporary,
        rowSecurity: r.row_security,
        definition: r.definition ?? undefined,
      };
      this.relationsByOid.set(rel.oid, rel);
      if (rel.temporary) this.temporaryNames.add(rel.name);
      else this.relationsByName.set(nameKey(rel.schema, rel.name), rel);
    }
    for (const i of rows.inherits) {
      pushTo(this.childrenOf, i.parent, i.child);
      pushTo(this.parentsOf, i.child, i.parent);
    }
    for (const rule of rows.rules) {
      if (rule.ref === null) continue;
      const targets = rule.is_select ? [this.selectRules, this.allRules] : [this.allRules];
      for (const target of targets) {
        let refs = target.get(rule.view);
        if (!refs) {
          refs = { relations: [], functions: [] };
          target.set(rule.view, refs);
        }
        (rule.ref_kind === "r" ? refs.relations : refs.functions).push(rule.ref);
      }
    }
    for (const f of rows.functions) {
      const fn: CatalogFunction = {
        oid: f.oid,
        schema: f.schema,
        name: f.name,
        volatility: f.volatility,
        argCount: f.arg_count,
        defaultCount: f.default_count,
        variadic: f.variadic,
        language: f.language,
        fromExtension: f.from_extension,
      };
      this.functionsByOid.set(fn.oid, fn);
      pushTo(this.functionsByName, nameKey(fn.schema, fn.name), fn);
    }
    for (const o of rows.operators) pushTo(this.operatorsByName, nameKey(o.schema, o.name), o.function);
  }

  /** A column of an ordinary table that a row constraint may use, or undefined. */
  constrainableColumn(relation: CatalogRelation, column: string): ConstrainableColumn | undefined {
    return this.columnsByRelation.get(relation.oid)?.get(column);
  }

  /** Every column of an ordinary table that a row constraint may use. */
  constrainableColumns(relation: CatalogRelation): ReadonlyMap<string, ConstrainableColumn> {
    return this.columnsByRelation.get(relation.oid) ?? new Map();
  }

  /** Writes to the table run the user's code: a trigger (not pgcachewatch's own) or a rule. */
  hasWriteHooks(relation: CatalogRelation): boolean {
    return this.writeHooks.has(relation.oid);
  }

  /** Foreign keys referencing the table whose actions write their table. */
  referencingActions(relation: CatalogRelation): readonly ForeignKeyAction[] {
    return this.foreignKeyActions.get(relation.oid) ?? [];
  }

  /** Inheritance children or partitions: rows of the table may be reported under other names. */
  hasChildren(relation: CatalogRelation): boolean {
    return (this.childrenOf.get(relation.oid)?.length ?? 0) > 0;
  }

  isConfirmedAbsent(what: string): boolean {
    return this.confirmedAbsent.has(what);
  }

  /** Record that `what` is not in this snapshot even after a reload (bounded: one snapshot's lifetime). */
  confirmAbsent(what: string): void {
    if (this.confirmedAbsent.size < 10_000) this.confirmedAbsent.add(what);
  }

  relation(schema: string, name: string): CatalogRelation | undefined {
    return this.relationsByName.get(nameKey(schema, name));
  }

  relationByOid(oid: string): CatalogRelation | undefined {
    return this.relationsByOid.get(oid);
  }

  /** Some session has a temporary relation of this name (it would shadow an unqualified name there). */
  hasTemporary(name: string): boolean {
    return this.temporaryNames.has(name);
  }

  children(oid: string): readonly string[] {
    return this.childrenOf.get(oid) ?? [];
  }

  parents(oid: string): readonly string[] {
    return this.parentsOf.get(oid) ?? [];
  }

  /** What a view's definition (its `_RETURN` rule) references; `all` adds its other rules (writes). */
  ruleReferences(viewOid: string, all: boolean): RuleReferences {
    return (all ? this.allRules : this.selectRules).get(viewOid) ?? { relations: [], functions: [] };
  }

  functions(schema: string, name: string): readonly CatalogFunction[] {
    return this.functionsByName.get(nameKey(schema, name)) ?? [];
  }

  functionByOid(oid: string): CatalogFunction | undefined {
    return this.functionsByOid.get(oid);
  }

  /** Functions behind the operators of this name in a schema other than pg_catalog. */
  userOperators(schema: string, name: string): readonly string[] {
    return this.operatorsByName.get(nameKey(schema, name)) ?? [];
  }
}

/** Read a {@link CatalogSnapshot} over `client` in one round trip. */
export async function loadCatalogSnapshot(client: pg.Client): Promise<CatalogSnapshot> {
  const results = (await client.query(SNAPSHOT_SQL)) as unknown as pg.QueryResult[];
  // results[0] is BEGIN, the last one COMMIT.
  const rows = <T>(index: number): T[] => (results[index]?.rows ?? []) as T[];
  const session = rows<SessionRow>(1)[0];
  if (!session) throw new CatalogLoadError("the snapshot query returned no session row");
  // results[2] is SET LOCAL.
  return new CatalogSnapshot({
    session,
    relations: rows<RelationRow>(3),
    inherits: rows<InheritsRow>(4),
    rules: rows<RuleRow>(5),
    functions: rows<FunctionRow>(6),
    operators: rows<OperatorRow>(7),
    namespaces: rows<NamespaceRow>(8),
    columns: rows<ColumnRow>(9),
    writeHooks: rows<WriteHookRow>(10),
    foreignKeyActions: rows<ForeignKeyActionRow>(11),
  });
}

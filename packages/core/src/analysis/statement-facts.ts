import type {
  A_Expr,
  A_Expr_Kind,
  CopyStmt,
  FuncCall,
  Node,
  RangeVar,
  SelectStmt,
  SQLValueFunction,
  SQLValueFunctionOp,
  TransactionStmt,
  TransactionStmtKind,
  TruncateStmt,
  TypeCast,
  WithClause,
} from "@pgsql/types";
import { type CandidateConstraint, rowConstraintCandidates } from "./row-constraints.js";
import { type WriteCandidate, writeCandidate } from "./write-constraints.js";

/**
 * What one statement says about itself, before the catalog gives its names a meaning: the
 * relations it names (CTE names already taken out), the functions and operators it calls, its
 * write targets and transaction control. Pure: no database, no search_path.
 */

export type StatementKind = "select" | "insert" | "update" | "delete" | "merge" | "utility";

export type TransactionControl = "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollback-to";

/** A relation as written in the SQL (the parser already unquoted and case-folded it). */
export interface RelationName {
  readonly schema: string | undefined;
  readonly name: string;
  /** False for `ONLY t`: inheritance children and partitions are not part of the statement. */
  readonly inh: boolean;
}

/** A function call as written: `schema.name(args)`. */
export interface FunctionName {
  readonly schema: string | undefined;
  readonly name: string;
  readonly argCount: number;
  /** `f(VARIADIC arr)`: the array is passed as the variadic argument itself. */
  readonly variadicArray: boolean;
}

/** An operator as written: `a + b`, `a OPERATOR(s.+) b`. */
export interface OperatorName {
  readonly schema: string | undefined;
  readonly name: string;
}

export interface StatementFacts {
  readonly kind: StatementKind;
  readonly reads: readonly RelationName[];
  readonly writes: readonly RelationName[];
  readonly functions: readonly FunctionName[];
  readonly operators: readonly OperatorName[];
  /** A reason the text alone makes the result uncacheable (locking read, utility, TABLESAMPLE, ...). */
  readonly opaque: string | undefined;
  /** A reason the text alone makes the result depend on the role or session (`current_user`, ...). */
  readonly sessionDependent: string | undefined;
  readonly transaction: TransactionControl | undefined;
  /** `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN`: a new transaction starts at once. */
  readonly chained: boolean;
  /** The statement changes the schema (DDL, GRANT): whoever ran it should invalidate the catalog. */
  readonly schemaChange: boolean;
  /** Row constraints of a SELECT, before the catalog says which tables and columns they name. */
  readonly rowCandidates?: readonly CandidateConstraint[];
  /** `TRUNCATE ... CASCADE`: the tables referencing the targets are emptied too. */
  readonly truncateCascade?: true;
  /** What an INSERT, UPDATE or DELETE names of the rows it changes, before the catalog. */
  readonly writeCandidate?: WriteCandidate;
}

type AstObject = Record<string, unknown>;

function isObject(value: unknown): value is AstObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `sval`s of a list of String nodes (qualified names, operator names). */
function stringList(nodes: readonly Node[] | undefined): string[] {
  const out: string[] = [];
  for (const node of nodes ?? []) {
    if ("String" in node && node.String.sval !== undefined) out.push(node.String.sval);
  }
  return out;
}

/** A wrapped node `{ TypeName: body }` as [type, body]; undefined for plain (unwrapped) structs. */
function unwrap(value: AstObject): [string, AstObject] | undefined {
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const type = keys[0]!;
  const first = type.charCodeAt(0);
  if (first < 65 || first > 90) return undefined;
  const body = value[type];
  return isObject(body) ? [type, body] : undefined;
}

const TIME_VALUE_FUNCTIONS: Partial<Record<SQLValueFunctionOp, string>> = {
  SVFOP_CURRENT_DATE: "CURRENT_DATE",
  SVFOP_CURRENT_TIME: "CURRENT_TIME",
  SVFOP_CURRENT_TIME_N: "CURRENT_TIME",
  SVFOP_CURRENT_TIMESTAMP: "CURRENT_TIMESTAMP",
  SVFOP_CURRENT_TIMESTAMP_N: "CURRENT_TIMESTAMP",
  SVFOP_LOCALTIME: "LOCALTIME",
  SVFOP_LOCALTIME_N: "LOCALTIME",
  SVFOP_LOCALTIMESTAMP: "LOCALTIMESTAMP",
  SVFOP_LOCALTIMESTAMP_N: "LOCALTIMESTAMP",
};

const SESSION_VALUE_FUNCTIONS: Partial<Record<SQLValueFunctionOp, string>> = {
  SVFOP_CURRENT_ROLE: "CURRENT_ROLE",
  SVFOP_CURRENT_USER: "CURRENT_USER",
  SVFOP_USER: "USER",
  SVFOP_SESSION_USER: "SESSION_USER",
  SVFOP_CURRENT_SCHEMA: "CURRENT_SCHEMA",
};

/** Date/time input strings that mean "the current time" (`'now'::timestamptz`). */
const TIME_LITERALS = new Set(["now", "today", "tomorrow", "yesterday"]);

/** Operators implied by A_Expr kinds whose name is not an operator symbol. */
const IMPLIED_OPERATORS: Partial<Record<A_Expr_Kind, readonly string[]>> = {
  AEXPR_BETWEEN: [">=", "<="],
  AEXPR_NOT_BETWEEN: [">=", "<="],
  AEXPR_BETWEEN_SYM: [">=", "<="],
  AEXPR_NOT_BETWEEN_SYM: [">=", "<="],
};

const TRANSACTION_KINDS: Record<TransactionStmtKind, TransactionControl | undefined> = {
  TRANS_STMT_BEGIN: "begin",
  TRANS_STMT_START: "begin",
  TRANS_STMT_COMMIT: "commit",
  // PREPARE TRANSACTION ends the transaction block for this session, like COMMIT.
  TRANS_STMT_PREPARE: "commit",
  TRANS_STMT_ROLLBACK: "rollback",
  TRANS_STMT_SAVEPOINT: "savepoint",
  TRANS_STMT_RELEASE: "release",
  TRANS_STMT_ROLLBACK_TO: "rollback-to",
  // COMMIT/ROLLBACK PREPARED run outside a transaction block and do not change this session's state.
  TRANS_STMT_COMMIT_PREPARED: undefined,
  TRANS_STMT_ROLLBACK_PREPARED: undefined,
};

/** Utility statements that do not change the schema (everything else is taken as DDL). */
const NON_DDL_UTILITIES = new Set([
  "TransactionStmt",
  "VariableSetStmt",
  "VariableShowStmt",
  "CopyStmt",
  "ExplainStmt",
  "DeclareCursorStmt",
  "FetchStmt",
  "ClosePortalStmt",
  "CallStmt",
  "DoStmt",
  "ExecuteStmt",
  "PrepareStmt",
  "DeallocateStmt",
  "ListenStmt",
  "UnlistenStmt",
  "NotifyStmt",
  "LockStmt",
  "VacuumStmt",
  "CheckPointStmt",
  "DiscardStmt",
  "LoadStmt",
  "ConstraintsSetStmt",
  "TruncateStmt",
  "ReindexStmt",
  "ClusterStmt",
  "RefreshMatViewStmt",
]);

const UTILITY_REASONS: Record<string, string> = {
  TransactionStmt: "transaction control",
  VariableSetStmt: "SET",
  VariableShowStmt: "SHOW",
  CopyStmt: "COPY",
  ExplainStmt: "EXPLAIN",
  DeclareCursorStmt: "cursor",
  CallStmt: "CALL of a procedure",
  DoStmt: "DO block",
  ExecuteStmt: "EXECUTE of a prepared statement",
  TruncateStmt: "TRUNCATE",
};

type CteScope = ReadonlySet<string>;
const NO_CTES: CteScope = new Set();

/** Collects the facts of one statement while walking its AST. */
class FactCollector {
  readonly reads: RelationName[] = [];
  readonly writes: RelationName[] = [];
  readonly functions: FunctionName[] = [];
  readonly operators: OperatorName[] = [];
  opaque: string | undefined;
  sessionDependent: string | undefined;

  markOpaque(reason: string): void {
    this.opaque ??= reason;
  }

  markSession(reason: string): void {
    this.sessionDependent ??= reason;
  }

  /** A RangeVar body: a CTE reference when unqualified and in scope, else a relation. */
  relation(body: RangeVar | undefined, scope: CteScope): RelationName | undefined {
    if (body?.relname === undefined) return undefined;
    const schema = body.schemaname;
    if (schema === undefined && scope.has(body.relname)) return undefined;
    // The JSON leaves out false booleans: `inh` is absent for `ONLY t`.
    return { schema, name: body.relname, inh: body.inh === true };
  }

  /** Visit a WITH clause and return the scope its statement body sees. */
  withClause(clause: WithClause | undefined, outer: CteScope): CteScope {
    if (!clause) return outer;
    const ctes = (clause.ctes ?? []).flatMap((node) =>
      "CommonTableExpr" in node ? [node.CommonTableExpr] : [],
    );
    const names = ctes.map((c) => c.ctename ?? "");
    if (clause.recursive === true) {
      // WITH RECURSIVE: every CTE of the list is visible in every CTE, itself included.
      const scope = new Set([...outer, ...names]);
      for (const cte of ctes) this.visit(cte.ctequery, scope);
      return scope;
    }
    // Plain WITH: a CTE sees only the ones before it.
    const scope = new Set(outer);
    for (const cte of ctes) {
      this.visit(cte.ctequery, scope);
      scope.add(cte.ctename ?? "");
    }
    return scope;
  }

  select(body: SelectStmt, outer: CteScope): void {
    const scope = this.withClause(body.withClause, outer);
    if ((body.lockingClause ?? []).length > 0) this.markOpaque("locking read (FOR UPDATE/SHARE)");
    if (body.op !== undefined && body.op !== "SETOP_NONE") {
      // Set operations hold their arms as plain SelectStmt structs, not wrapped nodes.
      if (body.larg) this.select(body.larg, scope);
      if (body.rarg) this.select(body.rarg, scope);
    }
    for (const [field, value] of Object.entries(body)) {
      if (field === "withClause" || field === "larg" || field === "rarg" || field === "intoClause") continue;
      this.visit(value, scope);
    }
  }

  /** INSERT/UPDATE/DELETE/MERGE: the target is written, everything else is walked. */
  modify(body: { readonly relation?: RangeVar; readonly withClause?: WithClause }, outer: CteScope): void {
    const scope = this.withClause(body.withClause, outer);
    // A write target is never a CTE name.
    const target = this.relation(body.relation, NO_CTES);
    if (target) this.writes.push(target);
    for (const [field, value] of Object.entries(body)) {
      if (field === "withClause" || field === "relation") continue;
      this.visit(value, scope);
    }
  }

  functionCall(body: FuncCall): void {
    const parts = stringList(body.funcname);
    const name = parts[parts.length - 1];
    if (name === undefined) return;
    this.functions.push({
      schema: parts.length > 1 ? parts[parts.length - 2] : undefined,
      name,
      argCount: (body.args ?? []).length,
      variadicArray: body.func_variadic === true,
    });
  }

  operator(nameList: readonly Node[] | undefined): void {
    const parts = stringList(nameList);
    const name = parts[parts.length - 1];
    if (name === undefined) return;
    this.operators.push({ schema: parts.length > 1 ? parts[parts.length - 2] : undefined, name });
  }

  typeCast(body: TypeCast): void {
    const text = body.arg && "A_Const" in body.arg ? body.arg.A_Const.sval?.sval : undefined;
    if (text !== undefined && TIME_LITERALS.has(text.trim().toLowerCase())) {
      this.markOpaque(`time-dependent '${text.trim()}'`);
    }
  }

  /** One wrapped node; `body` is typed by `type` (the casts name the shape the parser gives). */
  node(type: string, body: AstObject, scope: CteScope): void {
    switch (type) {
      case "SelectStmt":
        this.select(body as SelectStmt, scope);
        return;
      case "InsertStmt":
      case "UpdateStmt":
      case "DeleteStmt":
      case "MergeStmt":
        this.modify(body, scope);
        return;
      case "RangeVar": {
        const rel = this.relation(body as RangeVar, scope);
        if (rel) this.reads.push(rel);
        return;
      }
      case "FuncCall":
        this.functionCall(body as FuncCall);
        break;
      case "SQLValueFunction": {
        const op = (body as SQLValueFunction).op;
        const time = op && TIME_VALUE_FUNCTIONS[op];
        if (time) this.markOpaque(`time-dependent ${time}`);
        const session = op && SESSION_VALUE_FUNCTIONS[op];
        if (session) this.markSession(`session-dependent ${session}`);
        return;
      }
      case "TypeCast":
        this.typeCast(body as TypeCast);
        break;
      case "A_Expr": {
        const expr = body as A_Expr;
        const implied = expr.kind && IMPLIED_OPERATORS[expr.kind];
        if (implied) for (const name of implied) this.operators.push({ schema: undefined, name });
        else this.operator(expr.name);
        break;
      }
      case "SubLink":
        this.operator((body as { operName?: Node[] }).operName);
        break;
      case "RangeTableSample":
        this.markOpaque("TABLESAMPLE");
        break;
    }
    for (const value of Object.values(body)) this.visit(value, scope);
  }

  visit(value: unknown, scope: CteScope): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, scope);
      return;
    }
    if (!isObject(value)) return;
    const wrapped = unwrap(value);
    if (wrapped) {
      this.node(wrapped[0], wrapped[1], scope);
      return;
    }
    for (const item of Object.values(value)) this.visit(item, scope);
  }
}

function facts(
  collector: FactCollector,
  kind: StatementKind,
  extra: { transaction?: TransactionControl; chained?: boolean; schemaChange?: boolean } = {},
): StatementFacts {
  return {
    kind,
    reads: collector.reads,
    writes: collector.writes,
    functions: collector.functions,
    operators: collector.operators,
    opaque: collector.opaque,
    sessionDependent: collector.sessionDependent,
    transaction: extra.transaction,
    chained: extra.chained ?? false,
    schemaChange: extra.schemaChange ?? false,
  };
}

const DML_KINDS: Record<string, StatementKind> = {
  InsertStmt: "insert",
  UpdateStmt: "update",
  DeleteStmt: "delete",
  MergeStmt: "merge",
};

/** The facts of one parsed statement (`RawStmt.stmt`, a wrapped node). */
export function statementFacts(stmt: unknown): StatementFacts {
  const collector = new FactCollector();
  const wrapped = isObject(stmt) ? unwrap(stmt) : undefined;
  if (!wrapped) {
    collector.markOpaque("empty statement");
    return facts(collector, "utility");
  }
  const [type, body] = wrapped;

  if (type === "SelectStmt") {
    const select = body as SelectStmt;
    collector.select(select, NO_CTES);
    if (select.intoClause) {
      collector.markOpaque("SELECT INTO creates a table");
      return facts(collector, "utility", { schemaChange: true });
    }
    if (collector.writes.length > 0) collector.markOpaque("data-modifying WITH");
    const candidates = rowConstraintCandidates(stmt);
    return candidates.length > 0
      ? { ...facts(collector, "select"), rowCandidates: candidates }
      : facts(collector, "select");
  }
  const dml = DML_KINDS[type];
  if (dml) {
    collector.modify(body, NO_CTES);
    const write = writeCandidate(stmt);
    return write ? { ...facts(collector, dml), writeCandidate: write } : facts(collector, dml);
  }

  collector.markOpaque(UTILITY_REASONS[type] ?? `utility statement ${type}`);
  switch (type) {
    case "TransactionStmt": {
      const stmt = body as TransactionStmt;
      return facts(collector, "utility", {
        transaction: stmt.kind && TRANSACTION_KINDS[stmt.kind],
        chained: stmt.chain === true,
      });
    }
    case "CopyStmt": {
      const copy = body as CopyStmt;
      const rel = collector.relation(copy.relation, NO_CTES);
      if (rel) (copy.is_from === true ? collector.writes : collector.reads).push(rel);
      collector.visit(copy.query, NO_CTES);
      return facts(collector, "utility");
    }
    case "TruncateStmt":
      for (const node of (body as TruncateStmt).relations ?? []) {
        const rel = "RangeVar" in node ? collector.relation(node.RangeVar, NO_CTES) : undefined;
        if (rel) collector.writes.push(rel);
      }
      return (body as TruncateStmt).behavior === "DROP_CASCADE"
        ? { ...facts(collector, "utility"), truncateCascade: true }
        : facts(collector, "utility");
    case "ExplainStmt":
    case "DeclareCursorStmt":
    case "PrepareStmt":
      // EXPLAIN ANALYZE runs its statement: its writes are real.
      collector.visit(body.query, NO_CTES);
      return facts(collector, "utility");
  }
  return facts(collector, "utility", { schemaChange: !NON_DDL_UTILITIES.has(type) });
}

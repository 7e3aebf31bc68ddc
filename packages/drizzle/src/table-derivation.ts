import type { TableRef } from "@pgcachewatch/core";
import {
  Column,
  is,
  isSQLWrapper,
  Name,
  Param,
  Placeholder,
  SQL,
  StringChunk,
  Subquery,
  Table,
  View,
} from "drizzle-orm";
import { PgMaterializedView } from "drizzle-orm/pg-core";
import { isRealTable, tableOriginalName, tableSchema, viewConfig } from "./drizzle-internals.js";
import { selectSourcesOf } from "./select-sources.js";
import { lexSqlText } from "./sql-text-lexer.js";

/** The outcome of walking a query: every table it reads, or why that cannot be known. */
export type TableDerivation =
  | { readonly known: true; readonly tables: readonly TableRef[]; readonly writes: boolean }
  | { readonly known: false; readonly reason: string; readonly writes: boolean };

/** Set-returning built-ins that may appear in FROM without reading a table. */
const TABLE_FREE_FUNCTIONS = new Set([
  "generate_series",
  "generate_subscripts",
  "unnest",
  "json_array_elements",
  "json_array_elements_text",
  "jsonb_array_elements",
  "jsonb_array_elements_text",
  "json_each",
  "json_each_text",
  "jsonb_each",
  "jsonb_each_text",
  "json_to_record",
  "json_to_recordset",
  "jsonb_to_record",
  "jsonb_to_recordset",
  "json_populate_record",
  "json_populate_recordset",
  "jsonb_populate_record",
  "jsonb_populate_recordset",
  "jsonb_path_query",
  "regexp_matches",
  "regexp_split_to_table",
  "string_to_table",
]);

/** Words after which a FROM list ends (at the same parenthesis depth). */
const CLAUSE_WORDS = new Set([
  "where",
  "group",
  "having",
  "window",
  "order",
  "limit",
  "offset",
  "fetch",
  "for",
  "union",
  "intersect",
  "except",
  "returning",
  "set",
  "values",
]);

const WRITE_WORDS = new Set(["insert", "delete", "merge", "truncate", "copy", "into"]);

type Token =
  | { readonly kind: "word"; readonly value: string }
  | { readonly kind: "ident"; readonly value: string }
  | { readonly kind: "punct"; readonly value: string }
  | { readonly kind: "relation" }
  | { readonly kind: "value" };

const VALUE: Token = { kind: "value" };
const RELATION: Token = { kind: "relation" };

interface Frame {
  hasSelect: boolean;
  inFromList: boolean;
}

const nameKey = (schema: string | undefined, name: string): string => `${schema ?? ""}\u0000${name}`;

/**
 * Walk a Drizzle query (a builder, a relational query, or any SQL) and collect every table it reads:
 * tables, aliases, joined relations, subqueries anywhere, CTEs, views (through their defining query),
 * set operations, columns' tables, and tables interpolated into `sql` templates. Relation names that
 * appear only as text (`sql\`... from orders\``) and name no relation found elsewhere in the query, views
 * without a known query and materialized views make the result unknown: such a query must not be
 * cached on derived tables alone.
 */
export function deriveTables(query: unknown, defaultSchema = "public"): TableDerivation {
  const walker = new TableWalker(defaultSchema);
  walker.walkStatement(query);
  return walker.result();
}

class TableWalker {
  readonly #tables = new Map<string, TableRef>();
  /** Relations the query holds as objects, by the name SQL text would use for them (schema as declared). */
  readonly #knownRelations = new Set<string>();
  /** Relation names met as text; each must turn out to be one of the known relations. */
  readonly #namedRelations: { key: string; label: string }[] = [];
  readonly #visited = new WeakSet<object>();
  readonly #defaultSchema: string;
  #opaque: string | undefined;
  #writes = false;

  constructor(defaultSchema: string) {
    this.#defaultSchema = defaultSchema;
  }

  result(): TableDerivation {
    for (const named of this.#namedRelations) {
      if (!this.#knownRelations.has(named.key))
        this.#markOpaque(`relation ${named.label} appears only as SQL text`);
    }
    if (this.#opaque !== undefined) return { known: false, reason: this.#opaque, writes: this.#writes };
    return { known: true, tables: [...this.#tables.values()], writes: this.#writes };
  }

  /** Walk a self-contained piece of SQL (a statement, a subquery body, a view's query). */
  walkStatement(query: unknown): void {
    if (typeof query === "object" && query !== null) {
      if (this.#visited.has(query)) return;
      this.#visited.add(query);
    }
    const tokens: Token[] = [];
    this.#flatten(query, tokens);
    this.#scan(tokens);
  }

  #markOpaque(reason: string): void {
    this.#opaque ??= reason;
  }

  #addTable(table: Table): void {
    const schema = tableSchema(table) ?? this.#defaultSchema;
    const name = tableOriginalName(table);
    this.#tables.set(nameKey(schema, name), { schema, table: name });
    this.#knownRelations.add(nameKey(tableSchema(table), name));
  }

  /** A relation object (FROM / JOIN target): record or walk what it reads. */
  #walkRelation(relation: unknown): void {
    if (is(relation, Table)) {
      this.#addTable(relation);
    } else if (is(relation, View)) {
      this.#walkView(relation);
    } else if (is(relation, Subquery)) {
      this.#knownRelations.add(nameKey(undefined, relation._.alias));
      this.walkStatement(relation._.sql);
    }
    // SQL relations (`from(sql\`...\`)`) appear inline in the statement and are scanned there.
  }

  #walkView(view: View): void {
    const config = viewConfig(view);
    const label = config.schema ? `${config.schema}.${config.name}` : config.name;
    if (is(view, PgMaterializedView)) {
      this.#markOpaque(`materialized view ${label}: REFRESH sends no change event`);
    } else if (config.query === undefined) {
      this.#markOpaque(`view ${label} was declared with .existing(): its underlying tables are unknown`);
    } else {
      this.#knownRelations.add(nameKey(config.schema, config.originalName));
      this.walkStatement(config.query);
    }
  }

  #flatten(chunk: unknown, out: Token[]): void {
    if (chunk === undefined || chunk === null) return;
    if (Array.isArray(chunk)) {
      for (const item of chunk) this.#flatten(item, out);
      return;
    }
    if (typeof chunk !== "object" && typeof chunk !== "function") {
      out.push(VALUE);
      return;
    }
    if (is(chunk, StringChunk)) {
      for (const token of lexSqlText(chunk.value.join(""))) {
        if (token.kind === "literal") out.push(VALUE);
        else if (token.kind === "quoted") out.push({ kind: "ident", value: token.value });
        else out.push(token);
      }
      return;
    }
    if (is(chunk, SQL)) {
      const sources = selectSourcesOf(chunk);
      if (sources) {
        // Drizzle renders joined and aliased tables as bare names: walk the objects behind them.
        for (const relation of sources.relations) this.#walkRelation(relation);
        for (const cte of sources.withList) this.#walkRelation(cte);
      }
      for (const item of chunk.queryChunks) this.#flatten(item, out);
      return;
    }
    if (is(chunk, Name)) {
      out.push({ kind: "ident", value: chunk.value });
      return;
    }
    if (is(chunk, Table) || is(chunk, View) || is(chunk, Subquery)) {
      this.#walkRelation(chunk);
      out.push(RELATION);
      return;
    }
    if (is(chunk, Column)) {
      const table = chunk.table as Table | undefined;
      if (table && is(table, Table) && isRealTable(table)) this.#addTable(table);
      out.push(VALUE);
      return;
    }
    if (is(chunk, Param) || is(chunk, Placeholder)) {
      out.push(VALUE);
      return;
    }
    if (is(chunk, SQL.Aliased)) {
      // With a field alias Drizzle renders only the alias; the expression lives where it was declared.
      if (chunk.fieldAlias !== undefined) {
        out.push(VALUE);
        this.walkStatement(chunk.sql);
      } else {
        this.#flatten(chunk.sql, out);
      }
      return;
    }
    if (isSQLWrapper(chunk)) {
      this.#flatten(chunk.getSQL(), out);
      return;
    }
    out.push(VALUE);
  }

  /**
   * Follow the statement's syntax just far enough to find relation positions (after FROM, JOIN and
   * commas of a FROM list). A relation object there is walked; a name there (Drizzle renders joins and
   * aliases as names, users type them in `sql`) must name a relation the query also holds as an
   * object, since PostgreSQL relation names are unique per schema. Anything else is unknowable.
   */
  #scan(tokens: readonly Token[]): void {
    const frames: Frame[] = [{ hasSelect: false, inFromList: false }];
    let expectRelation = false;
    let previousWord: string | undefined;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as Token;
      const frame = frames[frames.length - 1] as Frame;
      if (expectRelation) {
        if (token.kind === "word" && (token.value === "lateral" || token.value === "only")) continue;
        expectRelation = false;
        if (token.kind === "ident" || token.kind === "word") {
          i = this.#checkRelationName(tokens, i);
          continue;
        }
      }
      switch (token.kind) {
        case "punct":
          if (token.value === "(") {
            frames.push({ hasSelect: false, inFromList: false });
          } else if (token.value === ")") {
            if (frames.length > 1) frames.pop();
          } else if (token.value === "," && frame.inFromList) {
            expectRelation = true;
          } else if (token.value === ";") {
            this.#markOpaque("several statements in one query");
          }
          previousWord = undefined;
          break;
        case "word": {
          const word = token.value;
          if (word === "select") {
            frame.hasSelect = true;
          } else if (word === "from") {
            if (frame.hasSelect && previousWord !== "distinct") {
              frame.inFromList = true;
              expectRelation = true;
            }
          } else if (word === "join") {
            expectRelation = true;
          } else if (word === "update") {
            if (previousWord !== "for" && previousWord !== "key" && previousWord !== "do")
              this.#writes = true;
          } else if (WRITE_WORDS.has(word)) {
            this.#writes = true;
          }
          if (CLAUSE_WORDS.has(word)) frame.inFromList = false;
          previousWord = word;
          break;
        }
        default:
          previousWord = undefined;
      }
    }
  }

  /** Note a relation name at `tokens[start]`; return the index of its last token. */
  #checkRelationName(tokens: readonly Token[], start: number): number {
    const first = tokens[start] as Token & { value: string };
    let end = start;
    let schema: string | undefined;
    let name = first.value;
    const dot = tokens[start + 1];
    const second = tokens[start + 2];
    if (
      dot?.kind === "punct" &&
      dot.value === "." &&
      second &&
      (second.kind === "ident" || second.kind === "word")
    ) {
      schema = name;
      name = second.value;
      end = start + 2;
    }
    const next = tokens[end + 1];
    const label = schema === undefined ? name : `${schema}.${name}`;
    if (next?.kind === "punct" && next.value === "(") {
      if (schema === undefined && first.kind === "word" && TABLE_FREE_FUNCTIONS.has(name)) return end;
      this.#markOpaque(`function ${label}(...) in FROM may read tables`);
      return end;
    }
    this.#namedRelations.push({ key: nameKey(schema, name), label });
    return end;
  }
}

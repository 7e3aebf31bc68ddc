import { SqlParseError } from "./errors.js";
import { loadSqlParser, parseSql } from "./sql-parser.js";
import { statementFacts } from "./statement-facts.js";

/** A table name as a SQL text writes it: not resolved (no search_path, views not expanded). */
export interface MentionedTable {
  readonly schema: string | undefined;
  readonly table: string;
  readonly written: boolean;
}

/**
 * The tables a SQL text names, read with PostgreSQL's parser and nothing else: CTE names are not
 * tables; a table both read and written appears once per use. Throws {@link SqlParseError} for
 * text the grammar rejects.
 */
export async function mentionedTables(sql: string): Promise<readonly MentionedTable[]> {
  await loadSqlParser();
  const outcome = parseSql(sql);
  if (!outcome.ok) throw new SqlParseError(outcome.message);
  const out: MentionedTable[] = [];
  for (const raw of outcome.result.stmts ?? []) {
    const facts = statementFacts(raw.stmt);
    for (const r of facts.reads) out.push({ schema: r.schema, table: r.name, written: false });
    for (const w of facts.writes) out.push({ schema: w.schema, table: w.name, written: true });
  }
  return out;
}

/**
 * What the analyzer costs, measured (not asserted): a memo hit, a cold parse, a cold analysis.
 * Run: DATABASE_URL=postgres://... npx tsx packages/core/test/analysis-cost.script.ts
 */
import pg from "pg";
import { createSqlAnalyzer } from "../src/analysis/index.js";
import { loadSqlParser, parseSql } from "../src/analysis/sql-parser.js";
import { statementFacts } from "../src/analysis/statement-facts.js";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("set DATABASE_URL");

const QUERY = `WITH recent AS (SELECT id, author_id FROM cost_posts WHERE id > $1)
SELECT u.id, u.name, r.id AS post_id,
       (SELECT count(*) FROM cost_comments c WHERE c.post_id = r.id) AS comments
  FROM cost_users u JOIN recent r ON r.author_id = u.id
 WHERE u.id IN (SELECT author_id FROM cost_posts GROUP BY author_id HAVING count(*) > 1)
 ORDER BY u.id`;

function perCall(label: string, n: number, run: (i: number) => void): void {
  for (let i = 0; i < Math.min(n, 1000); i++) run(i); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) run(i);
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(`${label.padEnd(52)} ${ns >= 1000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`}`);
}

const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`
  DROP TABLE IF EXISTS cost_users, cost_posts, cost_comments;
  CREATE TABLE cost_users (id int PRIMARY KEY, name text);
  CREATE TABLE cost_posts (id int PRIMARY KEY, author_id int);
  CREATE TABLE cost_comments (id int PRIMARY KEY, post_id int);`);
try {
  await loadSqlParser();
  perCall("cold parse only (libpg-query parseSync)", 5000, (i) => {
    parseSql(`${QUERY} /* ${i} */`);
  });
  perCall("cold parse + AST walk (statement facts)", 5000, (i) => {
    const outcome = parseSql(`${QUERY} /* ${i} */`);
    if (outcome.ok) statementFacts(outcome.result.stmts?.[0]?.stmt);
  });
  const analyzer = await createSqlAnalyzer({ connectionString: url, memoSize: 100_000 });
  perCall("cold analyze (parse + walk + resolve + memoise)", 5000, (i) => {
    const result = analyzer.analyze(`${QUERY} /* cold ${i} */`);
    if (result instanceof Promise) throw new Error("expected a synchronous answer");
  });
  analyzer.analyze(QUERY);
  perCall("memo hit (same text)", 1_000_000, () => {
    analyzer.analyze(QUERY);
  });
  perCall("memo hit (same text, explicit searchPath)", 1_000_000, () => {
    analyzer.analyze(QUERY, { searchPath: "public" });
  });
  const loads = analyzer.counters.catalogLoads;
  const start = process.hrtime.bigint();
  analyzer.invalidateCatalog();
  await analyzer.analyze(QUERY);
  console.log(
    `${"catalog reload + analysis (after invalidateCatalog)".padEnd(52)} ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms (${analyzer.counters.catalogLoads - loads} load)`,
  );
  await analyzer.close();
} finally {
  await admin.query("DROP TABLE IF EXISTS cost_users, cost_posts, cost_comments");
  await admin.end();
}

import { loadModule, parseSync } from "libpg-query";
import { beforeAll, describe, expect, it } from "vitest";
import { rowConstraintCandidates } from "../src/analysis/row-constraints.js";

beforeAll(async () => {
  await loadModule();
});

/** The constraints as `table.column: values` strings, sorted. */
function constraints(sql: string): string[] {
  const stmt = (parseSync(sql) as { stmts: { stmt: unknown }[] }).stmts[0]?.stmt;
  return rowConstraintCandidates(stmt)
    .map(
      (c) =>
        `${c.occurrence.name}.${c.column}: ${c.values
          .map((v) => ("literal" in v ? `'${v.literal}'` : `$${v.param}${v.array ? "[]" : ""}`))
          .join(",")}`,
    )
    .sort();
}

describe("row constraints from the parse tree", () => {
  it.each([
    ["select * from users where id = $1", ["users.id: $1"]],
    ["select * from users where $1 = id", ["users.id: $1"]],
    ["select * from users u where u.id = 5 and u.name = 'ada'", ["users.id: '5'", "users.name: 'ada'"]],
    ["select * from users where id in (1, 2, null)", ["users.id: '1','2'"]],
    ["select * from users where id = any($1)", ["users.id: $1[]"]],
    ["select * from users where id = any(array[3, 4])", ["users.id: '3','4'"]],
    ["select * from users where id = $1::int", ["users.id: $1"]],
    ["select * from public.users where users.id = $2", ["users.id: $2"]],
    ["select count(*) from posts where author_id = $1", ["posts.author_id: $1"]],
    [
      "select distinct title from posts where author_id = $1 order by title limit 5 offset 2",
      ["posts.author_id: $1"],
    ],
    ["select id, row_number() over () from posts where author_id = $1", ["posts.author_id: $1"]],
    // Equalities between columns carry a value to the other side of an inner join.
    [
      "select * from users u join posts p on u.id = p.author_id where p.author_id = $1",
      ["posts.author_id: $1", "users.id: $1"],
    ],
    [
      "select * from users u, posts p where u.id = p.author_id and u.id = $1",
      ["posts.author_id: $1", "users.id: $1"],
    ],
  ])("%s", (sql, expected) => {
    expect(constraints(sql)).toEqual(expected);
  });

  it.each([
    ["under OR", "select * from users where id = 1 or id = 2"],
    ["under NOT", "select * from users where not (id = 1)"],
    ["under CASE", "select * from users where case when id = 1 then true else false end"],
    ["a cast on the column", "select * from users where id::text = $1"],
    ["a collation", 'select * from users where name collate "C" = $1'],
    ["a NULL comparison", "select * from users where id = null"],
    ["IS NULL", "select * from users where id is null"],
    ["an inequality", "select * from users where id > $1"],
    ["NOT IN", "select * from users where id not in (1, 2)"],
    ["LIMIT over the whole table", "select * from users order by id limit 10"],
    ["a HAVING clause", "select author_id, count(*) from posts group by author_id having author_id = 1"],
    ["a self-join", "select * from users a join users b on a.id = b.id where a.id = 1"],
    [
      "a table also in a subquery",
      "select * from users where id = 1 and id in (select author_id from posts where author_id in (select id from users))",
    ],
    ["a set operation", "select id from users where id = 1 union select id from users where id = 2"],
    ["a CTE", "with u as (select * from users) select * from u where id = 1"],
    ["a RIGHT join", "select * from users u right join posts p on p.author_id = u.id where u.id = 1"],
    [
      "an unqualified column with two tables",
      "select * from users u join posts p on p.author_id = u.id where id = 1",
    ],
    ["an expression on the value side", "select * from users where id = $1 + 1"],
    ["a subquery on the value side", "select * from users where id = (select max(author_id) from posts)"],
  ])("no constraint: %s", (_why, sql) => {
    expect(constraints(sql).filter((c) => c.startsWith("users."))).toEqual([]);
  });

  it("an ON conjunct of a LEFT JOIN filters only the nullable side", () => {
    // The preserved side's rows are all kept whatever the ON clause says.
    expect(constraints("select * from users u left join posts p on p.author_id = u.id and p.id = 5")).toEqual(
      ["posts.id: '5'"],
    );
    // A preserved column's value flows into the nullable side, never the other way.
    expect(
      constraints("select * from users u left join posts p on p.author_id = u.id where u.id = $1"),
    ).toEqual(["posts.author_id: $1", "users.id: $1"]);
    expect(
      constraints("select * from users u left join posts p on p.author_id = u.id and p.author_id = 3"),
    ).toEqual(["posts.author_id: '3'"]);
  });

  it("a correlated subquery's table depends on all its rows; the outer table keeps its constraint", () => {
    expect(
      constraints(
        "select u.*, (select count(*) from posts p where p.author_id = u.id) from users u where u.id = $1",
      ),
    ).toEqual(["users.id: $1"]);
  });
});

import { describe, expect, it } from "vitest";
import { displayTable, parseCliTableName } from "../src/cli/cli-table-name.js";
import { UsageError } from "../src/cli/usage-error.js";
import { InvalidSqlTextError } from "../src/errors.js";
import { quoteLiteral } from "../src/triggers/sql-text.js";

describe("table names on the command line", () => {
  it.each([
    ["users", { table: "users" }],
    ["audit.log", { schema: "audit", table: "log" }],
    ["MyTable", { table: "MyTable" }],
    ['"Order.Items"', { table: "Order.Items" }],
    ['sales."Q1.2024"', { schema: "sales", table: "Q1.2024" }],
    ['"my schema"."a ""quoted"" name"', { schema: "my schema", table: 'a "quoted" name' }],
    ['x"; drop table users; --', { table: 'x"; drop table users; --' }],
    ["naïve.日本語", { schema: "naïve", table: "日本語" }],
  ])("reads %s", (text, expected) => {
    expect(parseCliTableName(text)).toEqual(expected);
  });

  it.each([
    ["a.b.c", /more than two parts/],
    ['"open', /unterminated quote/],
    ['"a"b', /unexpected text after a quoted name/],
    ["schema.", /ends with a dot/],
  ])("refuses %s with a usage error", (text, message) => {
    expect(() => parseCliTableName(text)).toThrow(UsageError);
    expect(() => parseCliTableName(text)).toThrow(message);
  });

  it("prints names so that they read back to the same table", () => {
    const refs = [
      { schema: "public", table: "users" },
      { schema: "Sales", table: "Order.Items" },
      { schema: "public", table: 'x"; drop table users; --' },
      { schema: "public", table: "日本語" },
    ];
    for (const ref of refs) expect(parseCliTableName(displayTable(ref))).toEqual(ref);
    expect(displayTable(refs[0] as (typeof refs)[0])).toBe("public.users");
    expect(displayTable(refs[1] as (typeof refs)[0])).toBe('"Sales"."Order.Items"');
  });
});

describe("SQL literals in migration text", () => {
  it("escapes quotes and backslashes in an E'' literal and refuses NUL", () => {
    expect(quoteLiteral("it's")).toBe("E'it''s'");
    expect(quoteLiteral("a\\b")).toBe("E'a\\\\b'");
    expect(() => quoteLiteral("a\u0000b")).toThrow(InvalidSqlTextError);
  });
});

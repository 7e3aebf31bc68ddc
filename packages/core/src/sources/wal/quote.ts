import { InvalidSqlTextError } from "../../errors.js";

/** Quote an SQL identifier: every name from a user is data, never SQL. */
export function quoteIdent(name: string): string {
  if (name.includes("\u0000")) throw new InvalidSqlTextError("an identifier", "contains a NUL byte");
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quote an SQL string literal (standard_conforming_strings is on in every supported server). */
export function quoteLiteral(value: string): string {
  if (value.includes("\u0000")) throw new InvalidSqlTextError("a literal", "contains a NUL byte");
  return `'${value.replaceAll("'", "''")}'`;
}

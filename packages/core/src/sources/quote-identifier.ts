import { InvalidSqlTextError } from "../errors.js";

/** Quote an SQL identifier the way PostgreSQL's quote_ident does: always quoted, embedded quotes doubled. */
export function quoteIdentifier(name: string): string {
  if (name.includes("\u0000")) throw new InvalidSqlTextError("an identifier", "contains a NUL byte");
  return `"${name.replaceAll('"', '""')}"`;
}

import { InvalidSqlTextError } from "../errors.js";

/**
 * Quote a string as an SQL literal that means the same whatever `standard_conforming_strings` is:
 * an `E'...'` literal with quotes and backslashes escaped.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\u0000")) throw new InvalidSqlTextError("an SQL literal", "cannot contain a NUL byte");
  return `E'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

import type { TableRef } from "../events/table-name.js";
import { UsageError } from "./usage-error.js";

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;

/**
 * Read a table name as typed on the command line: `users`, `audit.log`, or with double quotes for a
 * part that contains a dot (`"Order.Items"`, `sales."Q1.2024"`; `""` is a literal quote inside).
 * Unquoted parts are taken as written, case included (no folding to lower case). A part that does
 * not start with a quote ends at the next dot, so `x"; drop table users; --` is one table name.
 */
export function parseCliTableName(text: string): { schema?: string; table: string } {
  const parts: string[] = [];
  let index = 0;
  while (true) {
    if (text[index] === '"') {
      let part = "";
      index++;
      while (true) {
        if (index >= text.length)
          throw new UsageError(`unterminated quote in table name ${JSON.stringify(text)}`);
        if (text[index] === '"') {
          if (text[index + 1] === '"') {
            part += '"';
            index += 2;
            continue;
          }
          index++;
          break;
        }
        part += text[index];
        index++;
      }
      parts.push(part);
    } else {
      const dot = text.indexOf(".", index);
      const end = dot === -1 ? text.length : dot;
      parts.push(text.slice(index, end));
      index = end;
    }
    if (index >= text.length) break;
    if (text[index] !== ".")
      throw new UsageError(`unexpected text after a quoted name in ${JSON.stringify(text)}`);
    index++;
    if (index >= text.length) throw new UsageError(`table name ${JSON.stringify(text)} ends with a dot`);
  }
  if (parts.length > 2) {
    throw new UsageError(
      `table name ${JSON.stringify(text)} has more than two parts; quote a name that contains a dot: "my.table"`,
    );
  }
  const [first, second] = parts;
  if (first === undefined) throw new UsageError("empty table name");
  return second === undefined ? { table: first } : { schema: first, table: second };
}

function displayIdentifier(name: string): string {
  return PLAIN_IDENTIFIER.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** `schema.table`, quoting a part only when needed, in the syntax {@link parseCliTableName} reads back. */
export function displayTable(ref: TableRef): string {
  return `${displayIdentifier(ref.schema)}.${displayIdentifier(ref.table)}`;
}

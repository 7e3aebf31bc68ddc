/**
 * The rows a write returned (RETURNING), by output column name, read from the result its driver
 * gave: node-postgres' (`rows` as objects, or as arrays with `fields`), Kysely's (`rows` as
 * objects), Prisma's driver adapters' (`columnNames` and `rows` as arrays). Any other shape, a
 * name that occurs twice, or a row without the column: unknown, never a guess.
 */
export interface ReturnedRows {
  /** Every returned row's value of output column `name`, or undefined when not known. */
  column(name: string): readonly unknown[] | undefined;
}

export function returnedRows(result: unknown): ReturnedRows | undefined {
  if (typeof result !== "object" || result === null || Array.isArray(result)) return undefined;
  const { rows, fields, columnNames } = result as { rows?: unknown; fields?: unknown; columnNames?: unknown };
  if (!Array.isArray(rows)) return undefined;
  const names = namesOf(columnNames, fields);
  if (names === null) return undefined;
  return {
    column(name) {
      let at = -1;
      if (names !== undefined) {
        at = names.indexOf(name);
        if (at < 0 || names.indexOf(name, at + 1) >= 0) return undefined;
      }
      const values: unknown[] = [];
      for (const row of rows as unknown[]) {
        if (Array.isArray(row)) {
          if (at < 0 || at >= row.length) return undefined;
          values.push(row[at]);
        } else if (typeof row === "object" && row !== null && Object.hasOwn(row, name)) {
          values.push((row as Record<string, unknown>)[name]);
        } else {
          return undefined;
        }
      }
      return values;
    },
  };
}

/** Output names in order; undefined when the result gives none; null when it gives them in a shape not known. */
function namesOf(columnNames: unknown, fields: unknown): readonly string[] | undefined | null {
  if (columnNames !== undefined) {
    return Array.isArray(columnNames) && columnNames.every((n) => typeof n === "string")
      ? (columnNames as string[])
      : null;
  }
  if (fields === undefined || fields === null) return undefined;
  if (!Array.isArray(fields)) return null;
  const names: string[] = [];
  for (const f of fields) {
    const name = (f as { name?: unknown } | null)?.name;
    if (typeof name !== "string") return null;
    names.push(name);
  }
  return names;
}

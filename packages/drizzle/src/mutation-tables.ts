import type { TableInput } from "@pgcachewatch/core";
import { is, type Subquery, Table } from "drizzle-orm";
import { tableOriginalName, tableSchema } from "./drizzle-internals.js";
import { deriveTables } from "./table-derivation.js";

/** The parts of an insert, update or delete builder that name what it writes. */
export interface MutationBuilderInternals {
  readonly config: { readonly table: unknown; readonly withList?: readonly Subquery[] };
}

/**
 * The tables a Drizzle insert/update/delete writes: its target, and every table of a CTE that itself
 * writes (`db.with(db.$with('x').as(db.insert(...)))`). Tables it only reads are left alone.
 */
export function writtenTables(builder: MutationBuilderInternals, defaultSchema: string): TableInput[] {
  const tables: TableInput[] = [];
  const target = builder.config.table;
  if (is(target, Table)) {
    tables.push({
      schema: tableSchema(target) ?? defaultSchema,
      table: tableOriginalName(target),
    });
  }
  for (const cte of builder.config.withList ?? []) {
    const derivation = deriveTables(cte._.sql, defaultSchema);
    if (derivation.writes && derivation.known) tables.push(...derivation.tables);
  }
  return tables;
}

import { DEFAULT_SCHEMA, type TableInput } from "../../events/table-name.js";
import { toTableRefs } from "../../triggers/resolve-tables.js";
import { parseCliTableName } from "../cli-table-name.js";
import { type CommandFlags, stringsFlag } from "../parse-args.js";
import { UsageError } from "../usage-error.js";

export interface TableArguments {
  readonly tables: readonly TableInput[];
  readonly defaultSchema: string;
  /** With `--all-tables`: the schemas to list tables from. */
  readonly allTablesIn?: readonly string[];
}

/** Table names or `--all-tables` (with `--schema` repeatable), checked before any connection is made. */
export function tableArguments(
  command: string,
  positionals: readonly string[],
  flags: CommandFlags,
  allFlag: "all-tables" | "all",
): TableArguments {
  const schemas = stringsFlag(flags, "schema");
  const all = flags[allFlag] === true;
  if (all && positionals.length > 0)
    throw new UsageError(`give table names or --${allFlag}, not both`, command);
  if (all) {
    if (allFlag === "all" && schemas.length > 0)
      throw new UsageError("--schema does not apply to --all", command);
    return {
      tables: [],
      defaultSchema: DEFAULT_SCHEMA,
      allTablesIn: schemas.length > 0 ? schemas : [DEFAULT_SCHEMA],
    };
  }
  if (positionals.length === 0)
    throw new UsageError(`name at least one table (or use --${allFlag})`, command);
  if (schemas.length > 1)
    throw new UsageError(`give --schema once (several only with --all-tables)`, command);
  const defaultSchema = schemas[0] ?? DEFAULT_SCHEMA;
  const tables = positionals.map((text) => parseCliTableName(text));
  toTableRefs(tables, defaultSchema); // refuse impossible names before connecting
  return { tables, defaultSchema };
}

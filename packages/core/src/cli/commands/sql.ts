import { listWatchableTables } from "../../triggers/list-tables.js";
import { triggerSql, uninstallTriggerSql } from "../../triggers/trigger-sql.js";
import { openClient } from "../connection.js";
import { booleanFlag } from "../parse-args.js";
import { UsageError } from "../usage-error.js";
import { CommandFailedError } from "./command-failed.js";
import type { CommandContext } from "./context.js";
import { tableArguments } from "./table-args.js";

export async function sqlCommand({ io, common, positionals, flags }: CommandContext): Promise<number> {
  const drizzleBreakpoints = booleanFlag(flags, "drizzle");
  const channel = common.channel;
  if (booleanFlag(flags, "uninstall")) {
    if (booleanFlag(flags, "all-tables"))
      throw new UsageError("with --uninstall, use --all instead of --all-tables", "sql");
    const args = tableArguments("sql", positionals, flags, "all");
    const text = args.allTablesIn
      ? uninstallTriggerSql({ all: true, drizzleBreakpoints, ...(channel === undefined ? {} : { channel }) })
      : uninstallTriggerSql({
          tables: args.tables,
          defaultSchema: args.defaultSchema,
          drizzleBreakpoints,
          ...(channel === undefined ? {} : { channel }),
        });
    io.stdout(text);
    return 0;
  }
  if (booleanFlag(flags, "all"))
    throw new UsageError("--all goes with --uninstall; to install on every table use --all-tables", "sql");
  const args = tableArguments("sql", positionals, flags, "all-tables");
  let tables = args.tables;
  if (args.allTablesIn) {
    const client = await openClient(common, io.env);
    try {
      tables = await listWatchableTables(client, args.allTablesIn);
    } finally {
      await client.end().catch(() => {});
    }
    if (tables.length === 0)
      throw new CommandFailedError(`no tables in schema ${args.allTablesIn.join(", ")}`);
  }
  io.stdout(triggerSql({ tables, channel, defaultSchema: args.defaultSchema, drizzleBreakpoints }));
  return 0;
}

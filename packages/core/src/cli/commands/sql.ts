import type { TableInput } from "../../events/table-name.js";
import { listWatchableTables } from "../../triggers/list-tables.js";
import { triggerSql, uninstallTriggerSql } from "../../triggers/trigger-sql.js";
import { openClient } from "../connection.js";
import { booleanFlag } from "../parse-args.js";
import { UsageError } from "../usage-error.js";
import { CommandFailedError } from "./command-failed.js";
import type { CommandContext } from "./context.js";
import { keyArguments } from "./key-args.js";
import { tableArguments } from "./table-args.js";

export async function sqlCommand({ io, common, positionals, flags }: CommandContext): Promise<number> {
  const drizzleBreakpoints = booleanFlag(flags, "drizzle");
  const channelOption = common.channel === undefined ? {} : { channel: common.channel };
  if (booleanFlag(flags, "uninstall")) {
    if (booleanFlag(flags, "all-tables")) {
      throw new UsageError("with --uninstall, use --all instead of --all-tables", "sql");
    }
    const args = tableArguments("sql", positionals, flags, "all");
    const text = args.all
      ? uninstallTriggerSql({ all: true, drizzleBreakpoints, ...channelOption })
      : uninstallTriggerSql({
          tables: args.tables,
          defaultSchema: args.defaultSchema,
          drizzleBreakpoints,
          ...channelOption,
        });
    io.stdout(text);
    return 0;
  }
  if (booleanFlag(flags, "all")) {
    throw new UsageError("--all goes with --uninstall; to install on every table use --all-tables", "sql");
  }
  const args = tableArguments("sql", positionals, flags, "all-tables");
  const keyOptions = keyArguments("sql", flags);
  let tables: readonly TableInput[];
  if (args.all) {
    // Only this form needs the database: to list the tables.
    const client = await openClient(common, io.env);
    try {
      tables = await listWatchableTables(client, args.schemas);
    } finally {
      await client.end().catch(() => {});
    }
    if (tables.length === 0) throw new CommandFailedError(`no tables in schema ${args.schemas.join(", ")}`);
  } else {
    tables = args.tables;
  }
  io.stdout(
    triggerSql({
      tables,
      ...channelOption,
      ...(args.all ? {} : { defaultSchema: args.defaultSchema }),
      drizzleBreakpoints,
      followNewPartitions: booleanFlag(flags, "follow-partitions"),
      ...keyOptions,
    }),
  );
  return 0;
}

import { uninstallTriggers } from "../../triggers/uninstall.js";
import { openClient } from "../connection.js";
import type { CommandContext } from "./context.js";
import { tableArguments } from "./table-args.js";

export async function uninstallCommand({ io, common, positionals, flags }: CommandContext): Promise<number> {
  const args = tableArguments("uninstall", positionals, flags, "all");
  const channel = common.channel;
  const client = await openClient(common, io.env);
  try {
    const result = args.allTablesIn
      ? await uninstallTriggers(client, channel === undefined ? { all: true } : { all: true, channel })
      : await uninstallTriggers(client, {
          tables: args.tables,
          defaultSchema: args.defaultSchema,
          ...(channel === undefined ? {} : { channel }),
        });
    io.stdout(`removed ${result.triggersRemoved} trigger${result.triggersRemoved === 1 ? "" : "s"}\n`);
    if (result.functionsRemoved) {
      io.stdout(
        result.schemaRemoved
          ? "removed the trigger functions and schema pgcachewatch\n"
          : "removed the trigger functions; kept schema pgcachewatch (it holds objects pgcachewatch did not create)\n",
      );
    }
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

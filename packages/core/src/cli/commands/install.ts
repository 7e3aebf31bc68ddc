import { toChannel } from "../../triggers/channel.js";
import { installTriggers } from "../../triggers/install.js";
import { listWatchableTables } from "../../triggers/list-tables.js";
import { displayTable } from "../cli-table-name.js";
import { openClient } from "../connection.js";
import { CommandFailedError } from "./command-failed.js";
import type { CommandContext } from "./context.js";
import { tableArguments } from "./table-args.js";

export async function installCommand({ io, common, positionals, flags }: CommandContext): Promise<number> {
  const args = tableArguments("install", positionals, flags, "all-tables");
  const channel = toChannel(common.channel);
  const client = await openClient(common, io.env);
  try {
    let tables = args.tables;
    if (args.allTablesIn) {
      tables = await listWatchableTables(client, args.allTablesIn);
      if (tables.length === 0) {
        throw new CommandFailedError(`no tables in schema ${args.allTablesIn.join(", ")}`);
      }
    }
    const result = await installTriggers(client, { tables, channel, defaultSchema: args.defaultSchema });
    const changes =
      result.triggersChanged === 0
        ? "already in place, nothing changed"
        : `${result.triggersChanged} trigger${result.triggersChanged === 1 ? "" : "s"} created or replaced`;
    io.stdout(
      `watching ${result.tables.length} table${result.tables.length === 1 ? "" : "s"} on channel ${result.channel} (${changes})\n`,
    );
    for (const ref of result.tables) io.stdout(`  ${displayTable(ref)}\n`);
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

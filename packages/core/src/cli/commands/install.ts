import { toChannel } from "../../triggers/channel.js";
import { installTriggers } from "../../triggers/install.js";
import { listWatchableTables } from "../../triggers/list-tables.js";
import { displayTable } from "../cli-table-name.js";
import { openClient } from "../connection.js";
import { booleanFlag } from "../parse-args.js";
import { CommandFailedError } from "./command-failed.js";
import type { CommandContext } from "./context.js";
import { keyArguments } from "./key-args.js";
import { tableArguments } from "./table-args.js";

export async function installCommand({ io, common, positionals, flags }: CommandContext): Promise<number> {
  const args = tableArguments("install", positionals, flags, "all-tables");
  const keyOptions = keyArguments("install", flags);
  const channel = toChannel(common.channel);
  const client = await openClient(common, io.env);
  try {
    const tables = args.all ? await listWatchableTables(client, args.schemas) : args.tables;
    if (args.all && tables.length === 0)
      throw new CommandFailedError(`no tables in schema ${args.schemas.join(", ")}`);
    const followNewPartitions = booleanFlag(flags, "follow-partitions");
    const result = await installTriggers(client, {
      tables,
      channel,
      ...(args.all ? {} : { defaultSchema: args.defaultSchema }),
      followNewPartitions,
      ...keyOptions,
    });
    const changes =
      result.triggersChanged === 0
        ? "already in place, nothing changed"
        : `${result.triggersChanged} trigger${result.triggersChanged === 1 ? "" : "s"} created or replaced`;
    io.stdout(
      `watching ${result.tables.length} table${result.tables.length === 1 ? "" : "s"} on channel ${result.channel} (${changes})\n`,
    );
    for (const ref of result.tables) io.stdout(`  ${displayTable(ref)}\n`);
    if (followNewPartitions)
      io.stdout("partitions created or attached later get the trigger automatically\n");
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

import pg from "pg";
import { clientConfigFor } from "../connection-string.js";
import { formatTable, type TableInput } from "../events/table-name.js";
import type { Logger } from "../logger.js";
import { ensureTriggers } from "../triggers/ensure.js";

/** `ensureTriggers` at start: one short-lived connection, catalog reads when the triggers are in place. */
export async function setUpTriggers(options: {
  connectionString: string | undefined;
  tables: readonly TableInput[];
  channel: string;
  defaultSchema: string;
  logger: Logger;
}): Promise<void> {
  // Checked first: a malformed string rejects start() with InvalidConnectionStringError (no password in it).
  const client = new pg.Client(clientConfigFor(options.connectionString));
  client.on("error", () => {});
  await client.connect();
  try {
    const result = await ensureTriggers(client, {
      tables: options.tables,
      channel: options.channel,
      defaultSchema: options.defaultSchema,
    });
    if (result.installed.length > 0) {
      options.logger.info("pgcachewatch installed missing triggers", {
        tables: result.installed.map(formatTable),
      });
    }
  } finally {
    await client.end();
  }
}

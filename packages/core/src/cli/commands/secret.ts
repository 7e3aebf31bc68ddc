import { readEventSecret } from "../../triggers/event-secret.js";
import { openClient } from "../connection.js";
import type { CommandContext } from "./context.js";

/** Print the install's event secret (for the engine's `eventSecret` option) on stdout, nothing else. */
export async function secretCommand({ io, common }: CommandContext): Promise<number> {
  const client = await openClient(common, io.env);
  try {
    io.stdout(`${await readEventSecret(client)}\n`);
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

import type { ChangeEvent } from "../../events/change-event.js";
import { parseNotifyPayload } from "../../events/notify-payload.js";
import { quoteIdentifier } from "../../sources/quote-identifier.js";
import { toChannel } from "../../triggers/channel.js";
import { displayTable } from "../cli-table-name.js";
import { describeTarget, openClient } from "../connection.js";
import { booleanFlag } from "../parse-args.js";
import { CommandFailedError } from "./command-failed.js";
import type { CommandContext } from "./context.js";

/** Milliseconds from the start of the writing transaction to arrival, if the payload carried its time. */
function latencyOf(event: ChangeEvent): number | undefined {
  return event.sentAt === undefined ? undefined : Math.round(event.receivedAt - event.sentAt);
}

/** One line of `pgcachewatch watch`: time received, schema.table, operation, latency. */
export function formatEventLine(event: ChangeEvent): string {
  const latency = latencyOf(event);
  return [
    new Date(event.receivedAt).toISOString(),
    displayTable(event),
    event.operation.padEnd(8),
    latency === undefined ? "latency unknown" : `${latency} ms`,
  ].join("  ");
}

function formatEventJson(event: ChangeEvent): string {
  return JSON.stringify({
    time: new Date(event.receivedAt).toISOString(),
    schema: event.schema,
    table: event.table,
    operation: event.operation,
    sentAt: event.sentAt ?? null,
    receivedAt: event.receivedAt,
    latencyMs: latencyOf(event) ?? null,
  });
}

export async function watchCommand({ io, common, flags }: CommandContext): Promise<number> {
  const channel = toChannel(common.channel);
  const json = booleanFlag(flags, "json");
  const client = await openClient(common, io.env);
  let stopping = false;
  const lost = new Promise<Error>((resolve) => {
    client.on("error", resolve);
    client.on("end", () => resolve(new Error("the server closed the connection")));
  });
  client.on("notification", (message) => {
    if (message.channel !== channel) return;
    const raw = message.payload ?? "";
    const parsed = parseNotifyPayload(raw, Date.now());
    if (!parsed.ok) {
      io.stderr(`ignored a malformed payload (${parsed.detail}): ${JSON.stringify(raw.slice(0, 200))}\n`);
      return;
    }
    io.stdout(`${json ? formatEventJson(parsed.event) : formatEventLine(parsed.event)}\n`);
  });
  try {
    await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    io.stderr(`listening on channel ${channel} at ${describeTarget(client)} (Ctrl-C to stop)\n`);
    const outcome = await Promise.race([io.interrupted.then(() => "stop" as const), lost]);
    if (outcome !== "stop") throw new CommandFailedError(`connection lost: ${outcome.message}`);
    stopping = true;
    return 0;
  } finally {
    if (!stopping) client.removeAllListeners("end");
    await client.end().catch(() => {});
  }
}

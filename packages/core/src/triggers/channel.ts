import { DEFAULT_CHANNEL } from "./definitions.js";
import { InvalidChannelError } from "./errors.js";

/** PostgreSQL's NAMEDATALEN - 1: the longest channel name LISTEN/NOTIFY accept. */
const MAX_CHANNEL_BYTES = 63;

/** Validate a channel name (or give the default); throws {@link InvalidChannelError}. */
export function toChannel(channel: string | undefined): string {
  if (channel === undefined) return DEFAULT_CHANNEL;
  if (channel.length === 0) throw new InvalidChannelError(channel, "empty name");
  if (channel.includes("\u0000")) throw new InvalidChannelError(channel, "contains a NUL byte");
  if (Buffer.byteLength(channel, "utf8") > MAX_CHANNEL_BYTES) {
    throw new InvalidChannelError(channel, `longer than ${MAX_CHANNEL_BYTES} bytes`);
  }
  return channel;
}

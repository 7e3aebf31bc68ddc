import { InvalidChannelError } from "../errors.js";

/** PostgreSQL's NAMEDATALEN - 1. */
const MAX_CHANNEL_BYTES = 63;

/**
 * A channel must be a name PostgreSQL keeps as is: LISTEN truncates a longer identifier (so the
 * listener would wait on another name than the triggers notify, and never hear them) and
 * pg_notify() refuses it; an empty name or a NUL byte can never be listened on, and the listener
 * would retry forever without becoming ready.
 */
export function assertChannelName(channel: string): void {
  if (channel.length === 0) throw new InvalidChannelError(channel, "empty name");
  if (channel.includes("\u0000")) throw new InvalidChannelError(channel, "contains a NUL byte");
  if (Buffer.byteLength(channel, "utf8") > MAX_CHANNEL_BYTES) {
    throw new InvalidChannelError(channel, `longer than ${MAX_CHANNEL_BYTES} bytes`);
  }
}

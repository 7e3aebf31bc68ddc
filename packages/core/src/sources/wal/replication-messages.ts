import { BinaryReader } from "./binary-reader.js";
import { ReplicationProtocolError } from "./errors.js";
import type { Lsn } from "./lsn.js";
import { epochMsToPgMicros, pgMicrosToEpochMs } from "./pg-time.js";

/** A message the WAL sender sends inside the CopyBoth stream. */
export type ServerStreamMessage =
  | {
      readonly kind: "xlogdata";
      /** Start of the WAL data in this message. */
      readonly walStart: Lsn;
      /** Current end of WAL on the server. */
      readonly walEnd: Lsn;
      readonly sentAt: number;
      /** The output plugin's message (pgoutput). */
      readonly payload: Buffer;
    }
  | {
      readonly kind: "keepalive";
      readonly walEnd: Lsn;
      readonly sentAt: number;
      /** The server wants a status update now (it will time us out otherwise). */
      readonly replyRequested: boolean;
    };

/** Parse one CopyData payload from the WAL sender (`w` XLogData or `k` primary keepalive). */
export function parseServerStreamMessage(chunk: Buffer): ServerStreamMessage {
  const reader = new BinaryReader(chunk);
  const tag = reader.char();
  if (tag === "w") {
    const walStart = reader.uint64();
    const walEnd = reader.uint64();
    const sentAt = pgMicrosToEpochMs(reader.int64());
    return { kind: "xlogdata", walStart, walEnd, sentAt, payload: chunk.subarray(25) };
  }
  if (tag === "k") {
    const walEnd = reader.uint64();
    const sentAt = pgMicrosToEpochMs(reader.int64());
    const replyRequested = reader.uint8() === 1;
    return { kind: "keepalive", walEnd, sentAt, replyRequested };
  }
  throw new ReplicationProtocolError(`unknown replication stream message ${JSON.stringify(tag)}`);
}

/**
 * A standby status update (`r`): the client has written, flushed and applied everything up to
 * `applied`. The server may then recycle WAL the slot no longer needs.
 */
export function buildStandbyStatusUpdate(applied: Lsn, now: number, replyRequested: boolean): Buffer {
  const buffer = Buffer.alloc(34);
  buffer.write("r", 0, "latin1");
  buffer.writeBigUInt64BE(applied, 1); // written
  buffer.writeBigUInt64BE(applied, 9); // flushed
  buffer.writeBigUInt64BE(applied, 17); // applied
  buffer.writeBigInt64BE(epochMsToPgMicros(now), 25);
  buffer.writeUInt8(replyRequested ? 1 : 0, 33);
  return buffer;
}

import { BinaryReader } from "./binary-reader.js";
import { ReplicationProtocolError } from "./errors.js";
import type { Lsn } from "./lsn.js";
import { pgMicrosToEpochMs } from "./pg-time.js";

/** One column of a relation as pgoutput describes it. */
export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeModifier: number;
  /** Part of the replica identity (the primary key by default; every column with REPLICA IDENTITY FULL). */
  readonly isKey: boolean;
}

/** A column value in a tuple: text form, NULL, or an unchanged TOASTed value that was not sent. */
export type TupleValue =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "binary"; readonly bytes: Buffer }
  | { readonly kind: "null" }
  | { readonly kind: "unchanged" };

export type Tuple = readonly TupleValue[];

/** The pgoutput messages (protocol version 1) this source uses; everything else is `other`. */
export type PgoutputMessage =
  | { readonly tag: "begin"; readonly finalLsn: Lsn; readonly commitTime: number; readonly xid: number }
  | {
      readonly tag: "commit";
      readonly flags: number;
      readonly commitLsn: Lsn;
      readonly endLsn: Lsn;
      readonly commitTime: number;
    }
  | {
      readonly tag: "relation";
      readonly relationId: number;
      readonly schema: string;
      readonly table: string;
      readonly replicaIdentity: string;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly tag: "insert"; readonly relationId: number; readonly newTuple: Tuple }
  | {
      readonly tag: "update";
      readonly relationId: number;
      /** Old key columns (`K`, when the key changed) or the whole old row (`O`, REPLICA IDENTITY FULL). */
      readonly oldTuple?: Tuple;
      readonly newTuple: Tuple;
    }
  | { readonly tag: "delete"; readonly relationId: number; readonly oldTuple: Tuple }
  | { readonly tag: "truncate"; readonly relationIds: readonly number[]; readonly options: number }
  | { readonly tag: "other"; readonly code: string };

/** Tags that carry no change and need no action: origin, type, logical message. */
const IGNORED_TAGS = new Set(["O", "Y", "M"]);

/** Decode one pgoutput message. Throws {@link ReplicationProtocolError} on anything malformed. */
export function decodePgoutput(payload: Buffer): PgoutputMessage {
  const reader = new BinaryReader(payload);
  const code = reader.char();
  switch (code) {
    case "B": {
      const finalLsn = reader.uint64();
      const commitTime = pgMicrosToEpochMs(reader.int64());
      const xid = reader.uint32();
      return { tag: "begin", finalLsn, commitTime, xid };
    }
    case "C": {
      const flags = reader.uint8();
      const commitLsn = reader.uint64();
      const endLsn = reader.uint64();
      const commitTime = pgMicrosToEpochMs(reader.int64());
      return { tag: "commit", flags, commitLsn, endLsn, commitTime };
    }
    case "R": {
      const relationId = reader.uint32();
      // pgoutput sends an empty namespace for pg_catalog.
      const schema = reader.cstring() || "pg_catalog";
      const table = reader.cstring();
      const replicaIdentity = reader.char();
      const count = reader.int16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.uint8();
        const name = reader.cstring();
        const typeOid = reader.uint32();
        const typeModifier = reader.int32();
        columns.push({ name, typeOid, typeModifier, isKey: (flags & 1) === 1 });
      }
      return { tag: "relation", relationId, schema, table, replicaIdentity, columns };
    }
    case "I": {
      const relationId = reader.uint32();
      expectTag(reader, "N", "insert");
      return { tag: "insert", relationId, newTuple: readTuple(reader) };
    }
    case "U": {
      const relationId = reader.uint32();
      let tag = reader.char();
      let oldTuple: Tuple | undefined;
      if (tag === "K" || tag === "O") {
        oldTuple = readTuple(reader);
        tag = reader.char();
      }
      if (tag !== "N")
        throw new ReplicationProtocolError(`update: expected new tuple 'N', got ${JSON.stringify(tag)}`);
      const newTuple = readTuple(reader);
      return oldTuple
        ? { tag: "update", relationId, oldTuple, newTuple }
        : { tag: "update", relationId, newTuple };
    }
    case "D": {
      const relationId = reader.uint32();
      const tag = reader.char();
      if (tag !== "K" && tag !== "O") {
        throw new ReplicationProtocolError(
          `delete: expected old tuple 'K' or 'O', got ${JSON.stringify(tag)}`,
        );
      }
      return { tag: "delete", relationId, oldTuple: readTuple(reader) };
    }
    case "T": {
      const count = reader.uint32();
      const options = reader.uint8();
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(reader.uint32());
      return { tag: "truncate", relationIds, options };
    }
    default:
      if (IGNORED_TAGS.has(code)) return { tag: "other", code };
      throw new ReplicationProtocolError(`unknown pgoutput message ${JSON.stringify(code)}`);
  }
}

function expectTag(reader: BinaryReader, expected: string, message: string): void {
  const tag = reader.char();
  if (tag !== expected) {
    throw new ReplicationProtocolError(
      `${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(tag)}`,
    );
  }
}

function readTuple(reader: BinaryReader): Tuple {
  const count = reader.int16();
  const values: TupleValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = reader.char();
    switch (kind) {
      case "n":
        values.push({ kind: "null" });
        break;
      case "u":
        values.push({ kind: "unchanged" });
        break;
      case "t":
        values.push({ kind: "text", text: reader.bytes(reader.int32()).toString("utf8") });
        break;
      case "b":
        values.push({ kind: "binary", bytes: Buffer.from(reader.bytes(reader.int32())) });
        break;
      default:
        throw new ReplicationProtocolError(`unknown tuple column kind ${JSON.stringify(kind)}`);
    }
  }
  return values;
}

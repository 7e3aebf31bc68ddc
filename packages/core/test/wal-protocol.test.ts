import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChangeEvent } from "../src/events/change-event.js";
import { formatLsn, parseLsn, ReplicationProtocolError } from "../src/sources/wal/index.js";
import { decodePgoutput } from "../src/sources/wal/pgoutput.js";
import {
  buildStandbyStatusUpdate,
  parseServerStreamMessage,
} from "../src/sources/wal/replication-messages.js";
import { TransactionCollector } from "../src/sources/wal/transaction-collector.js";
import { VisibilityRecheck } from "../src/sources/wal/visibility-recheck.js";

/** Build protocol bytes the way the server does (big-endian, NUL-terminated strings). */
class Bytes {
  private parts: Buffer[] = [];
  char(c: string) {
    this.parts.push(Buffer.from(c, "latin1"));
    return this;
  }
  u8(n: number) {
    this.parts.push(Buffer.from([n]));
    return this;
  }
  i16(n: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }
  i32(n: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }
  u64(n: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    this.parts.push(b);
    return this;
  }
  str(s: string) {
    this.parts.push(Buffer.from(`${s}\u0000`, "utf8"));
    return this;
  }
  text(s: string) {
    const value = Buffer.from(s, "utf8");
    return this.char("t").i32(value.length).raw(value);
  }
  raw(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  done() {
    return Buffer.concat(this.parts);
  }
}

const INT4 = 23;
const TEXT = 25;
// 2024-01-01T00:00:00Z in microseconds since 2000-01-01.
const COMMIT_MICROS = 757_382_400_000_000n;

const relation = (id: number, schema: string, table: string) =>
  new Bytes()
    .char("R")
    .i32(id)
    .str(schema)
    .str(table)
    .char("d")
    .i16(2)
    .u8(1)
    .str("id")
    .i32(INT4)
    .i32(-1)
    .u8(0)
    .str("name")
    .i32(TEXT)
    .i32(-1)
    .done();
const begin = () => new Bytes().char("B").u64(0x100n).u64(COMMIT_MICROS).i32(777).done();
const commit = (end: bigint) => new Bytes().char("C").u8(0).u64(0x100n).u64(end).u64(COMMIT_MICROS).done();
const row = (id: string, name: string) => new Bytes().i16(2).text(id).text(name).done();
const insert = (rel: number, id: string, name: string) =>
  new Bytes().char("I").i32(rel).char("N").raw(row(id, name)).done();

describe("LSN", () => {
  it("parses and formats PostgreSQL's X/Y form", () => {
    expect(parseLsn("16/B374D848")).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn((0x16n << 32n) | 0xb374d848n)).toBe("16/B374D848");
    expect(formatLsn(0n)).toBe("0/0");
    expect(parseLsn("nonsense")).toBeUndefined();
    expect(parseLsn("1/2/3")).toBeUndefined();
  });
});

describe("replication stream messages", () => {
  it("parses XLogData and keepalives, and builds a standby status update", () => {
    const xlog = new Bytes().char("w").u64(5n).u64(9n).u64(COMMIT_MICROS).raw(begin()).done();
    const parsed = parseServerStreamMessage(xlog);
    expect(parsed).toMatchObject({
      kind: "xlogdata",
      walStart: 5n,
      walEnd: 9n,
      sentAt: Date.UTC(2024, 0, 1),
    });
    expect(parsed.kind === "xlogdata" && parsed.payload.equals(begin())).toBe(true);
    expect(parseServerStreamMessage(new Bytes().char("k").u64(42n).u64(COMMIT_MICROS).u8(1).done())).toEqual({
      kind: "keepalive",
      walEnd: 42n,
      sentAt: Date.UTC(2024, 0, 1),
      replyRequested: true,
    });
    expect(() => parseServerStreamMessage(Buffer.from("x"))).toThrow(ReplicationProtocolError);
    expect(() => parseServerStreamMessage(new Bytes().char("k").u64(1n).done())).toThrow(/truncated/);

    const status = buildStandbyStatusUpdate(0x1234n, Date.UTC(2024, 0, 1), true);
    expect(status.length).toBe(34);
    expect(status.toString("latin1", 0, 1)).toBe("r");
    expect(status.readBigUInt64BE(1)).toBe(0x1234n);
    expect(status.readBigUInt64BE(9)).toBe(0x1234n);
    expect(status.readBigUInt64BE(17)).toBe(0x1234n);
    expect(status.readBigInt64BE(25)).toBe(COMMIT_MICROS);
    expect(status.readUInt8(33)).toBe(1);
  });
});

describe("pgoutput decoding", () => {
  it("decodes relation, insert, update with old key, delete and truncate", () => {
    expect(decodePgoutput(relation(16384, "", "pg_thing"))).toMatchObject({ schema: "pg_catalog" });
    expect(decodePgoutput(relation(16384, "public", "items"))).toMatchObject({
      tag: "relation",
      relationId: 16384,
      schema: "public",
      table: "items",
      columns: [
        { name: "id", typeOid: INT4, isKey: true },
        { name: "name", typeOid: TEXT, isKey: false },
      ],
    });
    expect(decodePgoutput(insert(16384, "1", "a"))).toMatchObject({ tag: "insert", relationId: 16384 });
    const update = new Bytes()
      .char("U")
      .i32(16384)
      .char("K")
      .i16(2)
      .text("1")
      .char("n")
      .char("N")
      .i16(2)
      .text("2")
      .char("u")
      .done();
    expect(decodePgoutput(update)).toEqual({
      tag: "update",
      relationId: 16384,
      oldTuple: [{ kind: "text", text: "1" }, { kind: "null" }],
      newTuple: [{ kind: "text", text: "2" }, { kind: "unchanged" }],
    });
    const del = new Bytes().char("D").i32(16384).char("K").i16(2).text("2").char("n").done();
    expect(decodePgoutput(del)).toMatchObject({
      tag: "delete",
      oldTuple: [{ kind: "text", text: "2" }, { kind: "null" }],
    });
    const truncate = new Bytes().char("T").i32(2).u8(0).i32(1).i32(2).done();
    expect(decodePgoutput(truncate)).toEqual({ tag: "truncate", relationIds: [1, 2], options: 0 });
    expect(decodePgoutput(new Bytes().char("O").u64(1n).str("origin").done())).toEqual({
      tag: "other",
      code: "O",
    });
  });

  it("rejects malformed and unknown messages with a protocol error", () => {
    expect(() => decodePgoutput(Buffer.from("Z"))).toThrow(ReplicationProtocolError);
    expect(() => decodePgoutput(insert(1, "1", "a").subarray(0, 12))).toThrow(/truncated/);
    expect(() => decodePgoutput(new Bytes().char("I").i32(1).char("X").done())).toThrow(/expected "N"/);
    expect(() =>
      decodePgoutput(new Bytes().char("R").i32(1).raw(Buffer.from("no-terminator")).done()),
    ).toThrow(/unterminated/);
  });
});

describe("transaction folding", () => {
  it("emits one event per table and operation at COMMIT, with parsed keys", () => {
    const collector = new TransactionCollector(10);
    const feed = (b: Buffer) => collector.accept(decodePgoutput(b), 1000);
    expect(feed(begin())).toBeUndefined();
    expect(collector.inTransaction).toBe(true);
    feed(relation(1, "public", "items"));
    feed(insert(1, "1", "a"));
    feed(insert(1, "2", "b"));
    const done = feed(commit(0x200n));
    expect(collector.inTransaction).toBe(false);
    expect(done).toEqual({
      xid: 777,
      endLsn: 0x200n,
      events: [
        {
          schema: "public",
          table: "items",
          operation: "insert",
          keys: [{ id: 1 }, { id: 2 }],
          // Row-level invalidation: the values of every column of the inserted rows.
          columns: { id: ["1", "2"], name: ["a", "b"] },
          sentAt: Date.UTC(2024, 0, 1),
          receivedAt: 1000,
        },
      ],
    });
  });

  it("treats a change for an unknown relation or outside a transaction as a protocol error", () => {
    const collector = new TransactionCollector(10);
    expect(() => collector.accept(decodePgoutput(insert(1, "1", "a")), 0)).toThrow(/outside a transaction/);
    collector.accept(decodePgoutput(begin()), 0);
    expect(() => collector.accept(decodePgoutput(insert(99, "1", "a")), 0)).toThrow(/unknown relation id 99/);
  });
});

describe("visibility recheck (rule 9)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reports each event again after the delay, merging batches that fall due together", () => {
    vi.useFakeTimers();
    const emitted: ChangeEvent[] = [];
    const recheck = new VisibilityRecheck(100, 3, (event) => emitted.push(event));
    const event = (table: string, keys?: Record<string, unknown>[]): ChangeEvent =>
      keys
        ? { schema: "public", table, operation: "update", keys, receivedAt: 0 }
        : { schema: "public", table, operation: "update", receivedAt: 0 };
    recheck.schedule([event("a", [{ id: 1 }])]);
    recheck.schedule([event("a", [{ id: 2 }]), event("b")]);
    vi.advanceTimersByTime(99);
    expect(emitted).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(emitted).toEqual([event("a", [{ id: 1 }, { id: 2 }]), event("b")]);
    recheck.schedule([event("a", [{ id: 1 }, { id: 2 }])]);
    recheck.schedule([event("a", [{ id: 3 }, { id: 4 }])]);
    vi.advanceTimersByTime(100);
    // Over maxKeysPerEvent: table-level.
    expect(emitted.at(-1)).toEqual(event("a"));
    recheck.schedule([event("c")]);
    recheck.clear();
    vi.advanceTimersByTime(1000);
    expect(emitted.map((e) => e.table)).toEqual(["a", "b", "a"]);
  });
});

import pg from "pg";
import type { ChangeEvent, ChangeOperation } from "../../events/change-event.js";
import { ReplicationProtocolError } from "./errors.js";
import type { Lsn } from "./lsn.js";
import type { PgoutputMessage, RelationColumn, Tuple } from "./pgoutput.js";

interface RelationInfo {
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly RelationColumn[];
  /** Positions of the replica-identity columns; empty when the relation has none. */
  readonly keyIndexes: readonly number[];
  /** REPLICA IDENTITY FULL: old tuples carry every column, not only the key. */
  readonly fullIdentity: boolean;
}

interface PendingEvent {
  readonly schema: string;
  readonly table: string;
  readonly operation: ChangeOperation;
  /** undefined once the row keys are unknown or too many: the whole table is affected. */
  keys: Record<string, unknown>[] | undefined;
  /** Old and new values per column (row-level invalidation), undefined for the whole table. */
  columns: ColumnValues | undefined;
}

/** A committed transaction, turned into one event per table and operation. */
export interface CommittedTransaction {
  readonly events: readonly ChangeEvent[];
  /** Acknowledge up to here once the events were applied. */
  readonly endLsn: Lsn;
  readonly xid: number;
}

/**
 * Folds the pgoutput messages of each transaction into change events, like the NOTIFY source's
 * per-statement payloads fold within a transaction: one event per table and operation, with the
 * replica-identity values of the changed rows (up to `maxKeysPerEvent`, then table-level).
 * Nothing is emitted before COMMIT; pgoutput never sends a rolled-back transaction.
 */
export class TransactionCollector {
  private readonly relations = new Map<number, RelationInfo>();
  private pending: Map<string, PendingEvent> | undefined;
  private xid = 0;

  constructor(private readonly maxKeysPerEvent: number) {}

  /** True between BEGIN and COMMIT. */
  get inTransaction(): boolean {
    return this.pending !== undefined;
  }

  /** Forget a half-received transaction and the relation cache (a new stream resends both). */
  reset(): void {
    this.pending = undefined;
    this.relations.clear();
  }

  /** Feed one message; returns the transaction when this message was its COMMIT. */
  accept(message: PgoutputMessage, receivedAt: number): CommittedTransaction | undefined {
    switch (message.tag) {
      case "begin":
        this.pending = new Map();
        this.xid = message.xid;
        return undefined;
      case "relation": {
        const keyIndexes: number[] = [];
        message.columns.forEach((column, index) => {
          if (column.isKey) keyIndexes.push(index);
        });
        this.relations.set(message.relationId, {
          schema: message.schema,
          table: message.table,
          columns: message.columns,
          keyIndexes,
          fullIdentity: message.replicaIdentity === "f",
        });
        return undefined;
      }
      case "insert":
        this.record(message.relationId, "insert", [message.newTuple], {
          kind: "insert",
          newTuple: message.newTuple,
        });
        return undefined;
      case "update":
        this.record(
          message.relationId,
          "update",
          message.oldTuple ? [message.oldTuple, message.newTuple] : [message.newTuple],
          message.oldTuple
            ? { kind: "update", oldTuple: message.oldTuple, newTuple: message.newTuple }
            : { kind: "update", newTuple: message.newTuple },
        );
        return undefined;
      case "delete":
        this.record(message.relationId, "delete", [message.oldTuple], {
          kind: "delete",
          oldTuple: message.oldTuple,
        });
        return undefined;
      case "truncate":
        for (const relationId of message.relationIds) this.record(relationId, "truncate", undefined);
        return undefined;
      case "commit": {
        const pending = this.requirePending("commit");
        this.pending = undefined;
        const events: ChangeEvent[] = [];
        for (const entry of pending.values()) {
          const base = {
            schema: entry.schema,
            table: entry.table,
            operation: entry.operation,
            sentAt: message.commitTime,
            receivedAt,
          };
          const withKeys = entry.keys && entry.keys.length > 0 ? { ...base, keys: entry.keys } : base;
          const columns = entry.columns?.toRecord();
          events.push(columns === undefined ? withKeys : { ...withKeys, columns });
        }
        return { events, endLsn: message.endLsn, xid: this.xid };
      }
      case "other":
        return undefined;
    }
  }

  private requirePending(what: string): Map<string, PendingEvent> {
    if (!this.pending) throw new ReplicationProtocolError(`${what} outside a transaction`);
    return this.pending;
  }

  private record(
    relationId: number,
    operation: ChangeOperation,
    tuples: readonly Tuple[] | undefined,
    row?: RowChange,
  ): void {
    const pending = this.requirePending(operation);
    const relation = this.relations.get(relationId);
    if (!relation) throw new ReplicationProtocolError(`${operation} for unknown relation id ${relationId}`);
    const slot = `${relationId}\u0000${operation}`;
    let entry = pending.get(slot);
    if (!entry) {
      entry = {
        schema: relation.schema,
        table: relation.table,
        operation,
        keys: [],
        columns: new ColumnValues(this.maxKeysPerEvent),
      };
      pending.set(slot, entry);
    }
    if (row === undefined) entry.columns = undefined;
    else entry.columns?.add(relation, row);
    if (!entry.keys) return;
    if (!tuples || relation.keyIndexes.length === 0) {
      entry.keys = undefined;
      return;
    }
    for (const tuple of tuples) {
      const key = extractKey(relation, tuple);
      if (!key || entry.keys.length >= this.maxKeysPerEvent) {
        entry.keys = undefined;
        return;
      }
      entry.keys.push(key);
    }
  }
}

/** The replica-identity values of a row, parsed like `pg` parses query results; undefined if not all were sent. */
function extractKey(relation: RelationInfo, tuple: Tuple): Record<string, unknown> | undefined {
  const key: Record<string, unknown> = {};
  for (const index of relation.keyIndexes) {
    const column = relation.columns[index];
    const value = tuple[index];
    if (!column || !value) return undefined;
    switch (value.kind) {
      case "null":
        key[column.name] = null;
        break;
      case "text":
        key[column.name] = pg.types.getTypeParser(column.typeOid, "text")(value.text);
        break;
      default:
        return undefined;
    }
  }
  return key;
}

/** One row's change as pgoutput sends it: the new row, and the old key or (REPLICA IDENTITY FULL) old row. */
interface RowChange {
  readonly kind: "insert" | "update" | "delete";
  readonly oldTuple?: Tuple;
  readonly newTuple?: Tuple;
}

type Value = Tuple[number] | undefined;

/**
 * The distinct values each column had before and after the changes of one event, in
 * PostgreSQL's text form. A column is known only if every change gave both its old and its new
 * value: without REPLICA IDENTITY FULL an UPDATE or DELETE sends the old key columns only (an
 * UPDATE that keeps its key sends no old tuple: the key's old values are its new ones), so the
 * other columns are unknown and entries constrained on them are dropped for this event.
 */
class ColumnValues {
  readonly #values = new Map<string, Set<string>>();
  readonly #unknown = new Set<string>();

  constructor(private readonly maxValues: number) {}

  add(relation: RelationInfo, row: RowChange): void {
    const keys = new Set(relation.keyIndexes);
    relation.columns.forEach((column, index) => {
      if (this.#unknown.has(column.name)) return;
      const sides = this.#sides(relation, row, index, keys.has(index));
      for (const value of sides) {
        if (value === undefined || value.kind === "unchanged" || value.kind === "binary") {
          this.#forget(column.name);
          return;
        }
        // NULL equals nothing: no constraint value can match it.
        if (value.kind === "null") continue;
        let set = this.#values.get(column.name);
        if (set === undefined) {
          set = new Set();
          this.#values.set(column.name, set);
        }
        set.add(value.text);
        if (set.size > this.maxValues) {
          this.#forget(column.name);
          return;
        }
      }
    });
  }

  toRecord(): Record<string, readonly string[]> {
    const out: Record<string, readonly string[]> = {};
    for (const [column, values] of this.#values) out[column] = [...values];
    return out;
  }

  /** The column's old and new values in this change; undefined where pgoutput did not send it. */
  #sides(relation: RelationInfo, row: RowChange, index: number, isKey: boolean): Value[] {
    const carriesOld = relation.fullIdentity || isKey;
    switch (row.kind) {
      case "insert":
        return [row.newTuple?.[index]];
      case "delete":
        return [carriesOld ? row.oldTuple?.[index] : undefined];
      case "update": {
        const newValue = row.newTuple?.[index];
        if (row.oldTuple !== undefined) return [carriesOld ? row.oldTuple[index] : undefined, newValue];
        return [isKey ? newValue : undefined, newValue];
      }
    }
  }

  #forget(column: string): void {
    this.#unknown.add(column);
    this.#values.delete(column);
  }
}

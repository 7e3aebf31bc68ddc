import { randomBytes } from "node:crypto";
import type pg from "pg";
import { PgCacheWatchError } from "../../errors.js";
import { ReplicationSlotError, WalOptionsError } from "./errors.js";
import { type Lsn, parseLsn } from "./lsn.js";
import { quoteIdent } from "./quote.js";
import type { ReplicationConnection } from "./replication-connection.js";

/** Prefix of the temporary slots this library creates (one per replication session). */
export const TEMPORARY_SLOT_PREFIX = "pgcw_tmp_";

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

export function assertSlotName(name: string): void {
  if (!SLOT_NAME.test(name)) {
    throw new WalOptionsError(
      `invalid replication slot name ${JSON.stringify(name)}: use 1-63 lowercase letters, digits and underscores`,
    );
  }
}

export function temporarySlotName(): string {
  return `${TEMPORARY_SLOT_PREFIX}${process.pid}_${randomBytes(5).toString("hex")}`;
}

/** A replication slot as pg_replication_slots shows it. */
export interface SlotInfo {
  readonly name: string;
  readonly plugin: string | null;
  readonly type: string;
  readonly database: string | null;
  readonly temporary: boolean;
  readonly active: boolean;
  readonly activePid: number | null;
  readonly confirmedFlushLsn: string | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL 13+). */
  readonly walStatus: string | null;
  /** WAL the slot holds back from recycling, in bytes. */
  readonly retainedBytes: number | null;
}

export async function listSlots(client: pg.Client, name?: string): Promise<SlotInfo[]> {
  const { rows } = await client.query<{
    slot_name: string;
    plugin: string | null;
    slot_type: string;
    database: string | null;
    temporary: boolean;
    active: boolean;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
    retained: string | null;
  }>(
    `SELECT to_jsonb(s) ->> 'slot_name' AS slot_name, s.plugin::text, s.slot_type, s.database::text,
            s.temporary, s.active, s.active_pid, s.confirmed_flush_lsn::text,
            to_jsonb(s) ->> 'wal_status' AS wal_status,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained
       FROM pg_replication_slots s
      WHERE $1::text IS NULL OR s.slot_name = $1
      ORDER BY s.slot_name`,
    [name ?? null],
  );
  return rows.map((r) => ({
    name: r.slot_name,
    plugin: r.plugin,
    type: r.slot_type,
    database: r.database,
    temporary: r.temporary,
    active: r.active,
    activePid: r.active_pid,
    confirmedFlushLsn: r.confirmed_flush_lsn,
    walStatus: r.wal_status,
    retainedBytes: r.retained === null ? null : Number(r.retained),
  }));
}

/** Create a logical slot for pgoutput on a replication connection; returns its consistent point. */
export async function createSlot(
  connection: ReplicationConnection,
  name: string,
  temporary: boolean,
  serverVersionNum: number,
): Promise<Lsn | undefined> {
  // PostgreSQL 15 introduced the option list; the older keyword form is what earlier servers accept.
  const snapshot = serverVersionNum >= 150000 ? "(SNAPSHOT 'nothing')" : "NOEXPORT_SNAPSHOT";
  const { rows } = await connection.query<{ consistent_point: string }>(
    `CREATE_REPLICATION_SLOT ${quoteIdent(name)} ${temporary ? "TEMPORARY " : ""}LOGICAL pgoutput ${snapshot}`,
  );
  const point = rows[0]?.consistent_point;
  return point ? parseLsn(point) : undefined;
}

/** Thrown when a permanent slot is held by another session: transient, retried with backoff. */
export class SlotInUseError extends PgCacheWatchError {
  constructor(name: string, pid: number | null) {
    super("SLOT_IN_USE", `replication slot "${name}" is in use by process ${pid ?? "?"}; retrying`);
  }
}

/**
 * Check that a named permanent slot can be used by this source. Returns `missing` when it must be
 * created and `lost` when the server invalidated it (it is then dropped, to be created afresh).
 */
export async function checkPermanentSlot(
  client: pg.Client,
  name: string,
  database: string,
): Promise<"usable" | "missing" | "lost"> {
  const [slot] = await listSlots(client, name);
  if (!slot) return "missing";
  if (slot.type !== "logical" || slot.plugin !== "pgoutput") {
    throw new ReplicationSlotError(
      "SLOT_WRONG_KIND",
      `replication slot "${name}" exists but is a ${slot.type} slot${slot.plugin ? ` for plugin ${slot.plugin}` : ""}, not a logical pgoutput slot.`,
      `choose another slot name, or drop it with \`SELECT pg_drop_replication_slot('${name}');\` if nothing else uses it.`,
    );
  }
  if (slot.database !== database) {
    throw new ReplicationSlotError(
      "SLOT_OTHER_DATABASE",
      `replication slot "${name}" belongs to database "${slot.database}", not "${database}".`,
      "choose another slot name: a slot decodes one database.",
    );
  }
  if (slot.active) throw new SlotInUseError(name, slot.activePid);
  if (slot.walStatus === "lost") {
    await client.query("SELECT pg_drop_replication_slot($1)", [name]);
    return "lost";
  }
  return "usable";
}

/** Drop a slot by name if it exists and is inactive. Returns whether it was dropped. */
export async function dropSlot(client: pg.Client, name: string): Promise<boolean> {
  const [slot] = await listSlots(client, name);
  if (!slot) return false;
  if (slot.active) {
    throw new ReplicationSlotError(
      "SLOT_ACTIVE",
      `replication slot "${name}" is in use by process ${slot.activePid}.`,
      "stop the application that streams from it first (or terminate that process), then drop it.",
    );
  }
  await client.query("SELECT pg_drop_replication_slot($1)", [name]);
  return true;
}

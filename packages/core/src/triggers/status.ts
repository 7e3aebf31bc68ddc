import { displayTable } from "../cli/cli-table-name.js";
import { formatTable, type TableRef } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import { type TriggerClient, withConnection } from "./client.js";
import {
  DEFAULT_CHANNEL,
  EVENT_TRIGGER_NAME,
  INSTALL_REVISION,
  KEYED_REVISION,
  NOTIFY_FUNCTION_OID,
  revisionFromComment,
  TRIGGER_ARGUMENTS_EXPRESSION,
  TRIGGER_CHANNEL_EXPRESSION,
} from "./definitions.js";
import { getOrAdd, type InstalledTrigger, triggerLayout } from "./trigger-layout.js";

export type WatchedTableKind = "table" | "partitioned" | "partition";

export interface WatchedTable extends TableRef {
  readonly channel: string;
  readonly kind: WatchedTableKind;
  /** For a partition: the root of its partition tree (its writes are reported for every table above it too). */
  readonly partitionOf?: TableRef;
  /** False when a trigger is disabled (`ALTER TABLE ... DISABLE TRIGGER`) or not the statement-level trigger install makes. */
  readonly active: boolean;
  /**
   * `keyed`: per-operation triggers that send the changed rows' key values (revision 3 on).
   * `table-wide`: the single trigger of revisions 1 and 2, every event table-wide (upgrade with
   * install). `partial`: some of the per-operation triggers are missing or altered (run install).
   */
  readonly layout: "keyed" | "table-wide" | "partial";
  /** The columns whose values the triggers send (layout `keyed`), else null. */
  readonly keyColumns: readonly string[] | null;
  /** A statement changing more rows than this sends a table-wide event (layout `keyed`), else null. */
  readonly maxRows: number | null;
}

/** Watched tables whose triggers do not send key values yet, and the command that upgrades them. */
export interface TriggerUpgrade {
  readonly channel: string;
  /** The watched tables to reinstall (a partition's root rather than the partition). */
  readonly tables: readonly TableRef[];
  /** `pgcachewatch install ...` for these tables, quoted for a POSIX shell. */
  readonly command: string;
}

/** A partition of a watched table that has no trigger (created or attached after install): writes made directly to it are missed. */
export interface UnwatchedPartition extends TableRef {
  readonly partitionOf: TableRef;
  /** The channel of the nearest watched table above it, i.e. what `install` would use. */
  readonly channel: string;
}

export interface TriggerStatus {
  /** The trigger function exists. */
  readonly installed: boolean;
  /** Revision of the installed functions (null if not installed or unrecognised). */
  readonly revision: number | null;
  /** The installed functions are the ones this version of PGCacheWatch installs (or newer). */
  readonly current: boolean;
  /** Tables with a PGCacheWatch trigger (only those on `channel` when one was given). */
  readonly tables: readonly WatchedTable[];
  readonly unwatchedPartitions: readonly UnwatchedPartition[];
  /** Tables still on the table-wide layout of revisions 1 and 2 (or with altered triggers), by channel. */
  readonly upgrades: readonly TriggerUpgrade[];
  /** The opt-in event trigger that puts triggers on new partitions is installed and enabled. */
  readonly followsNewPartitions: boolean;
  /** `pg_notification_queue_usage()`: fraction (0..1) of the NOTIFY queue in use; near 1, NOTIFY fails. */
  readonly notificationQueueUsage: number;
}

export interface TriggerStatusOptions {
  /** Only report triggers sending on this channel. */
  readonly channel?: string;
}

interface TriggerRow {
  relid: string;
  schema: string;
  table: string;
  relkind: string;
  name: string;
  type: number;
  enabled: string;
  old_table: string | null;
  new_table: string | null;
  arguments: string[];
  root_schema: string | null;
  root_table: string | null;
}

const SHELL_SAFE = /^[A-Za-z0-9_.$@%+=:,/-]+$/;

function shellWord(text: string): string {
  return SHELL_SAFE.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/** The CLI command that reinstalls `tables` on `channel`, as a user would type it. */
export function installCommand(tables: readonly TableRef[], channel: string): string {
  const names = tables.map((table) => shellWord(displayTable(table)));
  const channelFlag = channel === DEFAULT_CHANNEL ? "" : ` --channel ${shellWord(channel)}`;
  return `pgcachewatch install ${names.join(" ")}${channelFlag}`;
}

interface UnwatchedRow {
  schema: string;
  table: string;
  root_schema: string;
  root_table: string;
  channel: string;
}

const FUNCTION_OID = NOTIFY_FUNCTION_OID;

/** What is installed, where, on which channel, and how full the NOTIFY queue is. Read-only. */
export async function triggerStatus(
  client: TriggerClient,
  options: TriggerStatusOptions = {},
): Promise<TriggerStatus> {
  const channel = options.channel === undefined ? null : toChannel(options.channel);
  return withConnection(client, async (connection) => {
    const head = await connection.query<{
      installed: boolean;
      comment: string | null;
      usage: number;
      follows: boolean;
    }>(
      `SELECT ${FUNCTION_OID} IS NOT NULL AS installed,
              EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger
                       WHERE evtname = '${EVENT_TRIGGER_NAME}' AND evtenabled <> 'D') AS follows,
              pg_catalog.obj_description(${FUNCTION_OID}, 'pg_proc') AS comment,
              pg_catalog.pg_notification_queue_usage() AS usage`,
    );
    const { installed = false, comment = null, usage = 0, follows = false } = head.rows[0] ?? {};
    const revision = revisionFromComment(comment);
    if (!installed) {
      return {
        installed,
        revision,
        current: false,
        tables: [],
        unwatchedPartitions: [],
        upgrades: [],
        followsNewPartitions: follows,
        notificationQueueUsage: usage,
      };
    }
    const triggers = await connection.query<TriggerRow>(
      `SELECT c.oid::text AS relid, n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind,
              t.tgname AS name, t.tgtype::int AS type, t.tgenabled::text AS enabled,
              t.tgoldtable::text AS old_table, t.tgnewtable::text AS new_table,
              ${TRIGGER_ARGUMENTS_EXPRESSION} AS arguments,
              rn.nspname AS root_schema, rc.relname AS root_table
         FROM pg_catalog.pg_trigger t
         JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_class rc ON c.relispartition AND rc.oid = pg_catalog.pg_partition_root(c.oid)
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE t.tgfoid = ${FUNCTION_OID}
          AND ($1::text IS NULL OR ${TRIGGER_CHANNEL_EXPRESSION} = $1::text)
        ORDER BY n.nspname, c.relname, t.tgname`,
      [channel],
    );
    // Partitions below a watched table that lack the trigger; the nearest watched ancestor gives the channel.
    const unwatched = await connection.query<UnwatchedRow>(
      `SELECT n.nspname AS schema, c.relname AS table, rn.nspname AS root_schema, rc.relname AS root_table,
              w.channel
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_class rc ON rc.oid = pg_catalog.pg_partition_root(c.oid)
         JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
         CROSS JOIN LATERAL (
           SELECT ${TRIGGER_CHANNEL_EXPRESSION} AS channel
             FROM pg_catalog.pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, depth)
             JOIN pg_catalog.pg_trigger t ON t.tgrelid = a.relid AND t.tgfoid = ${FUNCTION_OID}
            WHERE a.relid <> c.oid
            ORDER BY a.depth
            LIMIT 1
         ) w
        WHERE c.relispartition AND c.relkind IN ('r', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND t.tgfoid = ${FUNCTION_OID})
          AND ($1::text IS NULL OR w.channel = $1::text)
        ORDER BY n.nspname, c.relname`,
      [channel],
    );
    const members = new Map<string, { row: TriggerRow; triggers: InstalledTrigger[] }>();
    for (const row of triggers.rows) {
      const member = getOrAdd(members, row.relid, () => ({ row, triggers: [] as InstalledTrigger[] }));
      member.triggers.push({
        name: row.name,
        type: row.type,
        enabled: row.enabled,
        oldTable: row.old_table,
        newTable: row.new_table,
        arguments: row.arguments,
      });
    }
    const tables = [...members.values()].map(({ row, triggers: memberTriggers }): WatchedTable => {
      const kind: WatchedTableKind =
        row.root_schema !== null ? "partition" : row.relkind === "p" ? "partitioned" : "table";
      const layout = triggerLayout(memberTriggers) ?? { kind: "partial" as const, channel: "" };
      const base = {
        schema: row.schema,
        table: row.table,
        channel: layout.channel,
        kind,
        active: layout.kind !== "partial" && layout.active,
        layout: layout.kind,
        keyColumns: layout.kind === "keyed" ? layout.keyColumns : null,
        maxRows: layout.kind === "keyed" ? layout.maxRows : null,
      };
      return row.root_schema !== null && row.root_table !== null
        ? { ...base, partitionOf: { schema: row.root_schema, table: row.root_table } }
        : base;
    });
    const unwatchedPartitions = unwatched.rows.map(
      (row): UnwatchedPartition => ({
        schema: row.schema,
        table: row.table,
        partitionOf: { schema: row.root_schema, table: row.root_table },
        channel: row.channel,
      }),
    );
    return {
      installed,
      revision,
      current: revision !== null && revision >= INSTALL_REVISION,
      tables,
      unwatchedPartitions,
      upgrades: upgradesFor(tables, revision),
      followsNewPartitions: follows,
      notificationQueueUsage: usage,
    };
  });
}

/**
 * Tables not on the keyed layout, grouped by channel, named by their watched root. With functions
 * older than the keyed revision every table needs the upgrade.
 */
function upgradesFor(tables: readonly WatchedTable[], revision: number | null): TriggerUpgrade[] {
  const byChannel = new Map<string, Map<string, TableRef>>();
  const functionsOld = revision === null || revision < KEYED_REVISION;
  for (const table of tables) {
    if (table.layout === "keyed" && !functionsOld) continue;
    const root = table.partitionOf ?? { schema: table.schema, table: table.table };
    const roots = getOrAdd(byChannel, table.channel, () => new Map<string, TableRef>());
    roots.set(formatTable(root), { schema: root.schema, table: root.table });
  }
  return [...byChannel].map(([channel, roots]) => {
    const refs = [...roots.values()];
    return { channel, tables: refs, command: installCommand(refs, channel) };
  });
}

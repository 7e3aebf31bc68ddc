import type { TableRef } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import { type TriggerClient, withConnection } from "./client.js";
import {
  INSTALL_REVISION,
  NOTIFY_FUNCTION_OID,
  TRIGGER_CHANNEL_EXPRESSION,
  TRIGGER_TYPE,
} from "./definitions.js";

export type WatchedTableKind = "table" | "partitioned" | "partition";

export interface WatchedTable extends TableRef {
  readonly channel: string;
  readonly kind: WatchedTableKind;
  /** For a partition: the root of its partition tree (its writes are reported for every table above it too). */
  readonly partitionOf?: TableRef;
  /** False when the trigger is disabled (`ALTER TABLE ... DISABLE TRIGGER`) or not the statement-level trigger install makes. */
  readonly active: boolean;
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
  /** The installed functions are the ones this version of PGCacheWatch installs. */
  readonly current: boolean;
  /** Tables with a PGCacheWatch trigger (only those on `channel` when one was given). */
  readonly tables: readonly WatchedTable[];
  readonly unwatchedPartitions: readonly UnwatchedPartition[];
  /** `pg_notification_queue_usage()`: fraction (0..1) of the NOTIFY queue in use; near 1, NOTIFY fails. */
  readonly notificationQueueUsage: number;
}

export interface TriggerStatusOptions {
  /** Only report triggers sending on this channel. */
  readonly channel?: string;
}

interface TriggerRow {
  schema: string;
  table: string;
  relkind: string;
  channel: string;
  active: boolean;
  root_schema: string | null;
  root_table: string | null;
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
    const head = await connection.query<{ installed: boolean; comment: string | null; usage: number }>(
      `SELECT ${FUNCTION_OID} IS NOT NULL AS installed,
              pg_catalog.obj_description(${FUNCTION_OID}, 'pg_proc') AS comment,
              pg_catalog.pg_notification_queue_usage() AS usage`,
    );
    const { installed = false, comment = null, usage = 0 } = head.rows[0] ?? {};
    const revisionMatch = comment === null ? null : /^pgcachewatch revision (\d+):/.exec(comment);
    const revision = revisionMatch?.[1] === undefined ? null : Number(revisionMatch[1]);
    if (!installed) {
      return {
        installed,
        revision,
        current: false,
        tables: [],
        unwatchedPartitions: [],
        notificationQueueUsage: usage,
      };
    }
    const triggers = await connection.query<TriggerRow>(
      `SELECT n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind,
              ${TRIGGER_CHANNEL_EXPRESSION} AS channel,
              (t.tgenabled = 'O' AND t.tgtype = ${TRIGGER_TYPE}) AS active,
              rn.nspname AS root_schema, rc.relname AS root_table
         FROM pg_catalog.pg_trigger t
         JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_class rc ON c.relispartition AND rc.oid = pg_catalog.pg_partition_root(c.oid)
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE t.tgfoid = ${FUNCTION_OID}
          AND ($1::text IS NULL OR ${TRIGGER_CHANNEL_EXPRESSION} = $1::text)
        ORDER BY n.nspname, c.relname`,
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
    const tables = triggers.rows.map((row): WatchedTable => {
      const kind: WatchedTableKind =
        row.root_schema !== null ? "partition" : row.relkind === "p" ? "partitioned" : "table";
      const base = { schema: row.schema, table: row.table, channel: row.channel, kind, active: row.active };
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
      current: revision === INSTALL_REVISION,
      tables,
      unwatchedPartitions,
      notificationQueueUsage: usage,
    };
  });
}

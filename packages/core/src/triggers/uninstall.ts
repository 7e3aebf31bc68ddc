import type { ClientBase } from "pg";
import type { TableInput } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import { inTransaction, type TriggerClient } from "./client.js";
import {
  INSTALL_LOCK_KEY,
  TEARDOWN_STATEMENTS,
  TRIGGER_SCHEMA,
  unwatchAllCall,
  unwatchTableCall,
} from "./definitions.js";
import { withTypedErrors } from "./pg-errors.js";
import { resolveTables, toTableRefs } from "./resolve-tables.js";

export type UninstallTriggersOptions =
  | {
      /** Remove the triggers from these tables (and their partitions). Functions and schema stay. */
      readonly tables: readonly TableInput[];
      readonly all?: never;
      readonly defaultSchema?: string;
      /** Only remove triggers that send on this channel. */
      readonly channel?: string;
    }
  | {
      /** Remove every trigger PGCacheWatch installed; without `channel` also its functions and schema. */
      readonly all: true;
      readonly tables?: never;
      readonly channel?: string;
    };

export interface UninstallTriggersResult {
  /** Tables and partitions whose PGCacheWatch triggers were removed. */
  readonly triggersRemoved: number;
  /** Whether the functions were dropped (only for `all` without `channel`). */
  readonly functionsRemoved: boolean;
  /** Whether schema `pgcachewatch` was dropped (it is kept if it holds anything PGCacheWatch did not create). */
  readonly schemaRemoved: boolean;
}

async function isInstalled(connection: ClientBase): Promise<boolean> {
  const { rows } = await connection.query<{ installed: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = '${TRIGGER_SCHEMA}' AND p.proname = 'unwatch_all') AS installed`,
  );
  return rows[0]?.installed === true;
}

async function schemaExists(connection: ClientBase): Promise<boolean> {
  const { rows } = await connection.query<{ exists: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '${TRIGGER_SCHEMA}') AS exists`,
  );
  return rows[0]?.exists === true;
}

/**
 * Remove exactly what `installTriggers` made: PGCacheWatch's triggers (recognised by their function,
 * never by name alone), and with `all` its functions and schema. Nothing else is touched. Named
 * tables must exist (`UnknownTableError` otherwise); a database without PGCacheWatch is a no-op.
 */
export async function uninstallTriggers(
  client: TriggerClient,
  options: UninstallTriggersOptions,
): Promise<UninstallTriggersResult> {
  const channel = options.channel === undefined ? undefined : toChannel(options.channel);
  const refs = options.all ? [] : toTableRefs(options.tables, options.defaultSchema);
  return withTypedErrors(() =>
    inTransaction(client, async (connection) => {
      await connection.query("SELECT pg_catalog.pg_advisory_xact_lock($1)", [INSTALL_LOCK_KEY]);
      await resolveTables(connection, refs);
      const nothing = { triggersRemoved: 0, functionsRemoved: false, schemaRemoved: false };
      if (!(await isInstalled(connection))) return nothing;
      let triggersRemoved = 0;
      const channelParameter = channel === undefined ? [] : [channel];
      if (options.all) {
        const call = unwatchAllCall(channel === undefined ? undefined : "$1");
        const { rows } = await connection.query<{ removed: number }>(`${call} AS removed`, channelParameter);
        triggersRemoved = rows[0]?.removed ?? 0;
        if (channel !== undefined) return { ...nothing, triggersRemoved };
        for (const statement of TEARDOWN_STATEMENTS) await connection.query(statement);
        return { triggersRemoved, functionsRemoved: true, schemaRemoved: !(await schemaExists(connection)) };
      }
      for (const ref of refs) {
        const call = unwatchTableCall("$1", "$2", channel === undefined ? undefined : "$3");
        const { rows } = await connection.query<{ removed: number }>(`${call} AS removed`, [
          ref.schema,
          ref.table,
          ...channelParameter,
        ]);
        triggersRemoved += rows[0]?.removed ?? 0;
      }
      return { ...nothing, triggersRemoved };
    }),
  );
}

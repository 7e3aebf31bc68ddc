import type { ClientBase } from "pg";
import type { TableInput, TableRef } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import { inTransaction, type TriggerClient } from "./client.js";
import { INSTALL_LOCK_KEY, SETUP_STATEMENTS, watchTableCall } from "./definitions.js";
import { withTypedErrors } from "./pg-errors.js";
import { resolveTables, toTableRefs } from "./resolve-tables.js";

export interface InstallTriggersOptions {
  /** Tables to watch: `"users"`, `"audit.log"` or `{ schema, table }`. Partitioned tables bring their partitions. */
  readonly tables: readonly TableInput[];
  /** NOTIFY channel. Default `pgcachewatch`. */
  readonly channel?: string;
  /** Schema for names without one. Default `public`. */
  readonly defaultSchema?: string;
}

export interface InstallTriggersResult {
  readonly tables: readonly TableRef[];
  readonly channel: string;
  /** Triggers created or replaced (tables and partitions); 0 when everything was already in place. */
  readonly triggersChanged: number;
}

/** Lock out concurrent installs, then check every table before any DDL runs. */
export async function prepareInstall(connection: ClientBase, refs: readonly TableRef[]): Promise<void> {
  await connection.query("SELECT pg_catalog.pg_advisory_xact_lock($1)", [INSTALL_LOCK_KEY]);
  await resolveTables(connection, refs);
}

export async function watchTables(
  connection: ClientBase,
  refs: readonly TableRef[],
  channel: string,
): Promise<number> {
  let changed = 0;
  for (const ref of refs) {
    const { rows } = await connection.query<{ changed: number }>(
      `${watchTableCall("$1", "$2", "$3")} AS changed`,
      [ref.schema, ref.table, channel],
    );
    changed += rows[0]?.changed ?? 0;
  }
  return changed;
}

/**
 * Install (or refresh) the trigger function and a statement-level trigger on each table, in one
 * transaction. Idempotent. Every name is checked against the catalog first: an unknown table
 * throws `UnknownTableError` and nothing is changed.
 */
export async function installTriggers(
  client: TriggerClient,
  options: InstallTriggersOptions,
): Promise<InstallTriggersResult> {
  const channel = toChannel(options.channel);
  const refs = toTableRefs(options.tables, options.defaultSchema);
  return withTypedErrors(() =>
    inTransaction(client, async (connection) => {
      await prepareInstall(connection, refs);
      for (const statement of SETUP_STATEMENTS) await connection.query(statement);
      const triggersChanged = await watchTables(connection, refs, channel);
      return { tables: refs, channel, triggersChanged };
    }),
  );
}

import type { ClientBase } from "pg";
import type { TableInput, TableRef } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import { inTransaction, type TriggerClient } from "./client.js";
import {
  FOLLOW_PARTITIONS_STATEMENT,
  INSTALL_LOCK_KEY,
  SETUP_STATEMENTS,
  watchTableCall,
} from "./definitions.js";
import { type KeyOptions, toKeyOptions } from "./key-options.js";
import { withTypedErrors } from "./pg-errors.js";
import { resolveTables, toTableRefs } from "./resolve-tables.js";

export interface InstallTriggersOptions {
  /** Tables to watch: `"users"`, `"audit.log"` or `{ schema, table }`. Partitioned tables bring their partitions. */
  readonly tables: readonly TableInput[];
  /** NOTIFY channel. Default `pgcachewatch`. */
  readonly channel?: string;
  /** Schema for names without one. Default `public`. */
  readonly defaultSchema?: string;
  /**
   * Also install an event trigger that puts the trigger on partitions created or attached later
   * (below a watched table). Needs a superuser; off by default. Removed by uninstall `all`.
   */
  readonly followNewPartitions?: boolean;
  /**
   * Columns whose values the triggers send, besides the primary key and foreign-key columns
   * (`["status", "customer_id"]`), for every table named here. Omitted: the columns the tables'
   * triggers send already stay; `[]`: primary key and foreign keys only.
   */
  readonly keys?: readonly string[];
  /** A statement that changes more rows than this sends a table-wide event. Omitted: the tables' current bound, 1,000 for a new install. */
  readonly maxRows?: number;
}

export interface InstallTriggersResult {
  readonly tables: readonly TableRef[];
  readonly channel: string;
  /** Tables and partitions whose triggers were created or replaced; 0 when everything was already in place. */
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
  keys: KeyOptions = { keys: undefined, maxRows: undefined },
): Promise<number> {
  let changed = 0;
  for (const ref of refs) {
    const { rows } = await connection.query<{ changed: number }>(
      `${watchTableCall("$1", "$2", "$3", "$4", "$5")} AS changed`,
      [ref.schema, ref.table, channel, keys.keys ?? null, keys.maxRows ?? null],
    );
    changed += rows[0]?.changed ?? 0;
  }
  return changed;
}

/**
 * Install (or refresh) the trigger function and statement-level triggers on each table, in one
 * transaction. Idempotent. Every name is checked against the catalog first: an unknown table
 * throws `UnknownTableError` and nothing is changed.
 */
export async function installTriggers(
  client: TriggerClient,
  options: InstallTriggersOptions,
): Promise<InstallTriggersResult> {
  const channel = toChannel(options.channel);
  const refs = toTableRefs(options.tables, options.defaultSchema);
  const keys = toKeyOptions(options);
  return withTypedErrors(() =>
    inTransaction(client, async (connection) => {
      await prepareInstall(connection, refs);
      for (const statement of SETUP_STATEMENTS) await connection.query(statement);
      if (options.followNewPartitions) await connection.query(FOLLOW_PARTITIONS_STATEMENT);
      const triggersChanged = await watchTables(connection, refs, channel, keys);
      return { tables: refs, channel, triggersChanged };
    }),
  );
}

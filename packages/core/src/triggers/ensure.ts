import type { ClientBase } from "pg";
import type { TableRef } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import { inTransaction, type TriggerClient } from "./client.js";
import {
  EVENT_TRIGGER_NAME,
  FOLLOW_PARTITIONS_STATEMENT,
  INSTALL_REVISION,
  keyColumnsExpression,
  NOTIFY_FUNCTION_OID,
  revisionFromComment,
  SETUP_STATEMENTS,
  TRIGGER_ARGUMENTS_EXPRESSION,
} from "./definitions.js";
import { type InstallTriggersOptions, prepareInstall, watchTables } from "./install.js";
import { type KeyOptions, toKeyOptions } from "./key-options.js";
import { withTypedErrors } from "./pg-errors.js";
import { toTableRefs } from "./resolve-tables.js";
import { getOrAdd, type InstalledTrigger, sameStrings, triggerLayout } from "./trigger-layout.js";

export interface EnsureTriggersResult {
  readonly channel: string;
  /** Tables whose triggers were missing, disabled or on another channel, and were (re)installed. */
  readonly installed: readonly TableRef[];
  /** Tables that already had every trigger they need; nothing was done for them. */
  readonly unchanged: readonly TableRef[];
  /** Whether the functions had to be created or upgraded. */
  readonly functionsUpdated: boolean;
}

async function followsNewPartitions(connection: ClientBase): Promise<boolean> {
  const { rows } = await connection.query<{ follows: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = $1 AND evtenabled <> 'D') AS follows",
    [EVENT_TRIGGER_NAME],
  );
  return rows[0]?.follows === true;
}

/**
 * Whether the installed functions are this version's or newer. A newer install (another instance
 * already upgraded during a rolling deploy) is left alone rather than downgraded.
 */
async function functionsAreCurrent(connection: ClientBase): Promise<boolean> {
  const { rows } = await connection.query<{ comment: string | null }>(
    `SELECT pg_catalog.obj_description(${NOTIFY_FUNCTION_OID}, 'pg_proc') AS comment`,
  );
  const revision = revisionFromComment(rows[0]?.comment ?? null);
  return revision !== null && revision >= INSTALL_REVISION;
}

interface MemberTriggerRow {
  ord: string;
  relid: string;
  is_root: boolean;
  name: string | null;
  type: number | null;
  enabled: string | null;
  old_table: string | null;
  new_table: string | null;
  arguments: string[] | null;
  root_columns: string[];
  auto_keys: string[];
}

/**
 * Tables (by position) whose own triggers and every partition's are revision 3's, active, on
 * `channel`, with this row bound and the key columns install would choose (the primary key, the
 * foreign keys and `keys`, or without `keys` the extra columns the table's triggers send already).
 */
async function tablesInPlace(
  connection: ClientBase,
  refs: readonly TableRef[],
  channel: string,
  keys: KeyOptions,
): Promise<Set<number>> {
  const { rows } = await connection.query<MemberTriggerRow>(
    `SELECT i.ord::text AS ord, m.relid::text AS relid, m.relid = c.oid AS is_root,
            t.tgname AS name, t.tgtype::int AS type, t.tgenabled::text AS enabled,
            t.tgoldtable::text AS old_table, t.tgnewtable::text AS new_table,
            CASE WHEN t.oid IS NULL THEN NULL ELSE ${TRIGGER_ARGUMENTS_EXPRESSION} END AS arguments,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS root_columns,
            ${keyColumnsExpression("c.oid", "ARRAY[]::text[]")} AS auto_keys
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS i(schema_name, table_name, ord)
       JOIN pg_catalog.pg_namespace n ON n.nspname = i.schema_name
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = i.table_name AND c.relkind IN ('r', 'p')
       CROSS JOIN LATERAL (SELECT c.oid AS relid UNION SELECT relid FROM pg_catalog.pg_partition_tree(c.oid)) m
       JOIN pg_catalog.pg_class mc ON mc.oid = m.relid AND mc.relkind IN ('r', 'p')
       LEFT JOIN pg_catalog.pg_trigger t ON t.tgrelid = m.relid AND t.tgfoid = ${NOTIFY_FUNCTION_OID}`,
    [refs.map((ref) => ref.schema), refs.map((ref) => ref.table)],
  );
  const byTable = new Map<string, Map<string, { root: boolean; triggers: InstalledTrigger[] }>>();
  const rootColumns = new Map<string, { columns: string[]; auto: Set<string> }>();
  for (const row of rows) {
    rootColumns.set(row.ord, { columns: row.root_columns, auto: new Set(row.auto_keys) });
    const members = getOrAdd(byTable, row.ord, () => new Map());
    const member = getOrAdd(members, row.relid, () => ({ root: row.is_root, triggers: [] }));
    if (row.name !== null) {
      member.triggers.push({
        name: row.name,
        type: row.type ?? 0,
        enabled: row.enabled ?? "",
        oldTable: row.old_table,
        newTable: row.new_table,
        arguments: row.arguments ?? [],
      });
    }
  }
  const inPlace = new Set<number>();
  for (const [ord, members] of byTable) {
    const layouts = [...members.values()].map((member) => ({
      root: member.root,
      layout: triggerLayout(member.triggers),
    }));
    const rootLayout = layouts.find((member) => member.root)?.layout;
    const table = rootColumns.get(ord);
    if (rootLayout?.kind !== "keyed" || table === undefined) continue;
    const extra = new Set(keys.keys ?? rootLayout.keyColumns);
    const wanted = table.columns.filter((column) => table.auto.has(column) || extra.has(column));
    const ok = layouts.every(
      ({ layout }) =>
        layout?.kind === "keyed" &&
        layout.active &&
        layout.channel === channel &&
        (keys.maxRows === undefined || layout.maxRows === keys.maxRows) &&
        sameStrings(layout.keyColumns, wanted),
    );
    if (ok) inPlace.add(Number(ord) - 1);
  }
  return inPlace;
}

/**
 * Make sure the given tables are watched on `channel`, doing DDL only where something is missing:
 * when every trigger is already in place this only reads the catalog, so an app may call it at
 * each start without taking locks on its tables (and without needing DDL rights).
 */
export async function ensureTriggers(
  client: TriggerClient,
  options: InstallTriggersOptions,
): Promise<EnsureTriggersResult> {
  const channel = toChannel(options.channel);
  const refs = toTableRefs(options.tables, options.defaultSchema);
  const keys = toKeyOptions(options);
  return withTypedErrors(() =>
    inTransaction(client, async (connection) => {
      const check = async () => ({
        current: await functionsAreCurrent(connection),
        inPlace: await tablesInPlace(connection, refs, channel, keys),
        following: options.followNewPartitions ? await followsNewPartitions(connection) : true,
      });
      let state = await check();
      if (state.current && state.following && state.inPlace.size === refs.length) {
        return { channel, installed: [], unchanged: refs, functionsUpdated: false };
      }
      // Something is missing: serialise with other installers and look again before changing anything.
      await prepareInstall(connection, refs);
      state = await check();
      if (!state.current) for (const statement of SETUP_STATEMENTS) await connection.query(statement);
      if (!state.following) await connection.query(FOLLOW_PARTITIONS_STATEMENT);
      const missing = refs.filter((_, index) => !state.inPlace.has(index));
      await watchTables(connection, missing, channel, keys);
      return {
        channel,
        installed: missing,
        unchanged: refs.filter((_, index) => state.inPlace.has(index)),
        functionsUpdated: !state.current,
      };
    }),
  );
}

import type { ClientBase } from "pg";
import type { TableRef } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import { inTransaction, type TriggerClient } from "./client.js";
import {
  FUNCTION_COMMENT,
  NOTIFY_FUNCTION_OID,
  SETUP_STATEMENTS,
  TRIGGER_NAME,
  TRIGGER_TYPE,
} from "./definitions.js";
import { type InstallTriggersOptions, prepareInstall, watchTables } from "./install.js";
import { withTypedErrors } from "./pg-errors.js";
import { toTableRefs } from "./resolve-tables.js";

export interface EnsureTriggersResult {
  readonly channel: string;
  /** Tables whose triggers were missing, disabled or on another channel, and were (re)installed. */
  readonly installed: readonly TableRef[];
  /** Tables that already had every trigger they need; nothing was done for them. */
  readonly unchanged: readonly TableRef[];
  /** Whether the functions had to be created or upgraded. */
  readonly functionsUpdated: boolean;
}

async function functionsAreCurrent(connection: ClientBase): Promise<boolean> {
  const { rows } = await connection.query<{ comment: string | null }>(
    `SELECT pg_catalog.obj_description(${NOTIFY_FUNCTION_OID}, 'pg_proc') AS comment`,
  );
  return rows[0]?.comment === FUNCTION_COMMENT;
}

/** Tables (by position) whose own trigger and every partition's trigger are in place, active and on `channel`. */
async function tablesInPlace(
  connection: ClientBase,
  refs: readonly TableRef[],
  channel: string,
): Promise<Set<number>> {
  const { rows } = await connection.query<{ ord: string }>(
    `SELECT i.ord::text AS ord
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS i(schema_name, table_name, ord)
       JOIN pg_catalog.pg_namespace n ON n.nspname = i.schema_name
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = i.table_name AND c.relkind IN ('r', 'p')
       CROSS JOIN LATERAL (SELECT c.oid AS relid UNION SELECT relid FROM pg_catalog.pg_partition_tree(c.oid)) m
       JOIN pg_catalog.pg_class mc ON mc.oid = m.relid AND mc.relkind IN ('r', 'p')
       LEFT JOIN pg_catalog.pg_trigger t
              ON t.tgrelid = m.relid AND t.tgname = $4
             AND t.tgfoid = ${NOTIFY_FUNCTION_OID}
      GROUP BY i.ord
     HAVING pg_catalog.bool_and(
              t.oid IS NOT NULL AND t.tgenabled = 'O' AND t.tgtype = ${TRIGGER_TYPE}
              AND t.tgargs = pg_catalog.convert_to($3, pg_catalog.getdatabaseencoding()) || pg_catalog.decode('00', 'hex'))`,
    [refs.map((ref) => ref.schema), refs.map((ref) => ref.table), channel, TRIGGER_NAME],
  );
  return new Set(rows.map((row) => Number(row.ord) - 1));
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
  return withTypedErrors(() =>
    inTransaction(client, async (connection) => {
      const check = async () => ({
        current: await functionsAreCurrent(connection),
        inPlace: await tablesInPlace(connection, refs, channel),
      });
      let state = await check();
      if (state.current && state.inPlace.size === refs.length) {
        return { channel, installed: [], unchanged: refs, functionsUpdated: false };
      }
      // Something is missing: serialise with other installers and look again before changing anything.
      await prepareInstall(connection, refs);
      state = await check();
      if (!state.current) for (const statement of SETUP_STATEMENTS) await connection.query(statement);
      const missing = refs.filter((_, index) => !state.inPlace.has(index));
      await watchTables(connection, missing, channel);
      return {
        channel,
        installed: missing,
        unchanged: refs.filter((_, index) => state.inPlace.has(index)),
        functionsUpdated: !state.current,
      };
    }),
  );
}

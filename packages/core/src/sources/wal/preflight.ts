import type pg from "pg";
import { UnexpectedServerResponseError } from "../../errors.js";
import { formatTable, type TableRef } from "../../events/table-name.js";
import {
  MissingReplicaIdentityError,
  NoFreeReplicationSlotError,
  ReplicationPrivilegeError,
  WalLevelError,
  WatchedTableNotFoundError,
} from "./errors.js";

/** What the server says about running logical replication as the current role. */
export interface ReplicationSettings {
  readonly walLevel: string;
  readonly serverVersionNum: number;
  readonly role: string;
  readonly canReplicate: boolean;
  readonly maxReplicationSlots: number;
  readonly usedReplicationSlots: number;
  readonly inactiveSlots: readonly string[];
  readonly maxWalSenders: number;
  readonly usedWalSenders: number;
  readonly database: string;
}

export async function readReplicationSettings(client: pg.Client): Promise<ReplicationSettings> {
  const { rows } = await client.query<{
    wal_level: string;
    version: number;
    role: string;
    can_replicate: boolean | null;
    max_slots: number;
    used_slots: number;
    inactive_slots: string[] | null;
    max_senders: number;
    used_senders: number;
    database: string;
  }>(`SELECT current_setting('wal_level') AS wal_level,
             current_setting('server_version_num')::int AS version,
             current_user AS role,
             (SELECT r.rolreplication OR r.rolsuper FROM pg_roles r WHERE r.rolname = current_user)
               OR EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'rds_replication'
                          AND pg_has_role(current_user, r.oid, 'member')) AS can_replicate,
             current_setting('max_replication_slots')::int AS max_slots,
             (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
             (SELECT array_agg(slot_name::text ORDER BY slot_name) FROM pg_replication_slots WHERE NOT active) AS inactive_slots,
             current_setting('max_wal_senders')::int AS max_senders,
             (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int AS used_senders,
             current_database() AS database`);
  const row = rows[0];
  if (!row) throw new UnexpectedServerResponseError("the server returned no settings row");
  return {
    walLevel: row.wal_level,
    serverVersionNum: row.version,
    role: row.role,
    canReplicate: row.can_replicate === true,
    maxReplicationSlots: row.max_slots,
    usedReplicationSlots: row.used_slots,
    inactiveSlots: row.inactive_slots ?? [],
    maxWalSenders: row.max_senders,
    usedWalSenders: row.used_senders,
    database: row.database,
  };
}

/** Problems with the server settings, as the typed errors the WAL source would throw. */
export function settingsProblems(
  settings: ReplicationSettings,
  needs: { readonly newSlot: boolean },
): Error[] {
  const problems: Error[] = [];
  if (settings.walLevel !== "logical") problems.push(new WalLevelError(settings.walLevel));
  if (!settings.canReplicate) problems.push(new ReplicationPrivilegeError(settings.role));
  if (needs.newSlot && settings.usedReplicationSlots >= settings.maxReplicationSlots) {
    problems.push(
      new NoFreeReplicationSlotError(
        "slot",
        settings.usedReplicationSlots,
        settings.maxReplicationSlots,
        settings.inactiveSlots,
      ),
    );
  }
  if (settings.usedWalSenders >= settings.maxWalSenders) {
    problems.push(
      new NoFreeReplicationSlotError("wal sender", settings.usedWalSenders, settings.maxWalSenders, []),
    );
  }
  return problems;
}

/** Throw the first settings problem, if any. */
export function assertSettings(settings: ReplicationSettings, needs: { readonly newSlot: boolean }): void {
  const [first] = settingsProblems(settings, needs);
  if (first) throw first;
}

/**
 * Every watched table must exist and have a replica identity: PostgreSQL refuses UPDATE and DELETE
 * on a published table without one, so publishing it would break the application's writes.
 */
export async function assertTablesPublishable(
  client: pg.Client,
  tables: readonly TableRef[] | "all",
): Promise<void> {
  if (tables === "all") {
    const { rows } = await client.query<{ name: string }>(
      `SELECT format('%s.%s', n.nspname, c.relname) AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND (c.relreplident = 'n'
               OR (c.relreplident = 'd' AND NOT EXISTS (
                     SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
        ORDER BY 1 LIMIT 50`,
    );
    if (rows.length > 0) throw new MissingReplicaIdentityError(rows.map((r) => r.name));
    return;
  }
  if (tables.length === 0) return;
  const { rows } = await client.query<{ schema: string; name: string; found: boolean; publishable: boolean }>(
    `SELECT w.schema, w.name, c.oid IS NOT NULL AS found,
            COALESCE(c.relreplident IN ('f', 'i')
              OR (c.relreplident = 'd' AND EXISTS (
                    SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)), false) AS publishable
       FROM unnest($1::text[], $2::text[]) AS w(schema, name)
       LEFT JOIN pg_namespace n ON n.nspname = w.schema
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name AND c.relkind IN ('r', 'p')`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)],
  );
  const missing = rows.filter((r) => !r.found).map((r) => formatTable({ schema: r.schema, table: r.name }));
  if (missing.length > 0) throw new WatchedTableNotFoundError(missing);
  const noIdentity = rows
    .filter((r) => !r.publishable)
    .map((r) => formatTable({ schema: r.schema, table: r.name }));
  if (noIdentity.length > 0) throw new MissingReplicaIdentityError(noIdentity);
}

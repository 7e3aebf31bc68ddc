import pg from "pg";
import { clientConfigFor } from "../../connection-string.js";
import { type TableInput, type TableRef, toTableRef } from "../../events/table-name.js";
import { applyColumnLists, publicationColumns } from "./column-lists.js";
import { WalOptionsError } from "./errors.js";
import {
  assertTablesPublishable,
  type ReplicationSettings,
  readReplicationSettings,
  settingsProblems,
} from "./preflight.js";
import {
  DEFAULT_PUBLICATION,
  describePublication,
  dropPublication,
  ensurePublication,
  type PublicationInfo,
} from "./publication.js";
import {
  publishedTables,
  readReplicaIdentities,
  setReplicaIdentityFull,
  type TableReplicaIdentity,
} from "./replica-identity.js";
import { assertSlotName, checkPermanentSlot, dropSlot, listSlots, type SlotInfo } from "./slots.js";

/** Where the operations connect: a connection string (default DATABASE_URL, then the PG* variables) and/or `pg` client settings. */
export interface WalConnectionOptions {
  readonly connectionString?: string;
  readonly clientConfig?: pg.ClientConfig;
  /** Use this connected client instead of opening one (it is left open). */
  readonly client?: pg.Client;
}

export interface WalSetupOptions extends WalConnectionOptions {
  /** Default "pgcachewatch". */
  readonly publication?: string;
  readonly tables?: readonly TableInput[];
  readonly allTables?: boolean;
  /** Also create this permanent slot (for `permanentSlot` in the source). */
  readonly permanentSlot?: string;
  /**
   * Set REPLICA IDENTITY FULL on the published tables (and their partitions) that lack it, so an
   * UPDATE or DELETE carries the old values of every column, not only the key's: dependencies on
   * non-key columns are then matched by value instead of invalidated table-wide. Costs WAL volume
   * on every UPDATE and DELETE of those tables.
   */
  readonly replicaIdentityFull?: boolean;
  /**
   * Publish only these columns of the tables besides their key columns (primary key, replica
   * identity index, foreign keys), as a column list (PostgreSQL 15+): the walsender then neither
   * decodes nor sends a wide column no query filters on. Entries constrained on a column left out
   * are dropped by every event on its table. Not with `allTables` or REPLICA IDENTITY FULL.
   */
  readonly columns?: readonly string[];
}

export interface WalSetupResult {
  readonly publication: PublicationInfo;
  readonly publicationCreated: boolean;
  readonly tablesAdded: readonly TableRef[];
  readonly slotCreated: boolean;
  /** Tables whose column list `columns` set or changed. */
  readonly columnListsChanged: readonly TableRef[];
  /** Tables and partitions whose replica identity `replicaIdentityFull` changed to FULL. */
  readonly replicaIdentityChanged: readonly TableRef[];
  /** Server settings that would stop the WAL source from starting, each saying how to fix it. */
  readonly problems: readonly string[];
}

export interface WalStatus {
  readonly settings: ReplicationSettings;
  /** Server settings that would stop the WAL source from starting, each saying how to fix it. */
  readonly problems: readonly string[];
  readonly publication: PublicationInfo;
  /** pgoutput slots of this database (temporary ones belong to running sources). */
  readonly slots: readonly SlotInfo[];
  /** The replica identity of each published table and partition (only `full` sends old non-key values). */
  readonly replicaIdentities: readonly TableReplicaIdentity[];
}

export interface WalDropOptions extends WalConnectionOptions {
  /** Default "pgcachewatch". */
  readonly publication?: string;
  /** Also drop this permanent slot (it must not be in use). */
  readonly permanentSlot?: string;
}

export interface WalDropResult {
  readonly publicationDropped: boolean;
  readonly slotDropped: boolean;
}

async function withClient<T>(
  options: WalConnectionOptions,
  run: (client: pg.Client) => Promise<T>,
): Promise<T> {
  if (options.client) return run(options.client);
  const connectionString =
    options.connectionString ??
    (options.clientConfig?.connectionString ? undefined : process.env.DATABASE_URL);
  const client = new pg.Client({
    ...clientConfigFor(connectionString, options.clientConfig),
    application_name: "pgcachewatch-wal-admin",
  });
  client.on("error", () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Prepare a database for the WAL source ahead of time (for example as a migration, run by a role
 * that owns the tables): create or extend the publication and, if asked, a permanent slot.
 */
export async function walSetup(options: WalSetupOptions): Promise<WalSetupResult> {
  if (options.allTables && options.tables)
    throw new WalOptionsError("pass either `tables` or `allTables`, not both");
  if (!options.allTables && !options.tables) throw new WalOptionsError("pass `tables` or `allTables: true`");
  if (options.permanentSlot !== undefined) assertSlotName(options.permanentSlot);
  if (options.columns !== undefined && options.allTables)
    throw new WalOptionsError("a column list needs `tables`: FOR ALL TABLES publishes every column");
  if (options.columns !== undefined && options.replicaIdentityFull)
    throw new WalOptionsError(
      "pass either `columns` or `replicaIdentityFull`: with REPLICA IDENTITY FULL a column list must name every column",
    );
  const tables = options.allTables ? "all" : (options.tables ?? []).map((t) => toTableRef(t));
  const name = options.publication ?? DEFAULT_PUBLICATION;
  return withClient(options, async (client) => {
    const settings = await readReplicationSettings(client);
    await assertTablesPublishable(client, tables);
    // Checked before the publication changes: a refused column list leaves everything as it was.
    const lists =
      options.columns !== undefined && tables !== "all"
        ? await publicationColumns(client, tables, options.columns, settings.serverVersionNum)
        : undefined;
    const result = await ensurePublication(client, name, tables, settings.serverVersionNum);
    const columnListsChanged = lists ? await applyColumnLists(client, name, lists) : [];
    const replicaIdentityChanged = options.replicaIdentityFull
      ? await setReplicaIdentityFull(client, await publishedTables(client, name))
      : [];
    let slotCreated = false;
    if (options.permanentSlot !== undefined) {
      const state = await checkPermanentSlot(client, options.permanentSlot, settings.database).catch(
        (error: unknown) => {
          // In use means it exists and works: nothing to create.
          if ((error as { code?: string }).code === "SLOT_IN_USE") return "usable" as const;
          throw error;
        },
      );
      if (state !== "usable") {
        await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [
          options.permanentSlot,
        ]);
        slotCreated = true;
      }
    }
    return {
      publication: result.publication,
      publicationCreated: result.created,
      tablesAdded: result.added,
      slotCreated,
      columnListsChanged,
      replicaIdentityChanged,
      problems: settingsProblems(settings, { newSlot: options.permanentSlot === undefined }).map(
        (e) => e.message,
      ),
    };
  });
}

/** Everything needed to tell whether the WAL source can run here, and what it holds on the server. */
export async function walStatus(
  options: WalConnectionOptions & { readonly publication?: string },
): Promise<WalStatus> {
  return withClient(options, async (client) => {
    const settings = await readReplicationSettings(client);
    const publication = await describePublication(client, options.publication ?? DEFAULT_PUBLICATION);
    const slots = (await listSlots(client)).filter(
      (slot) => slot.plugin === "pgoutput" && slot.database === settings.database,
    );
    const replicaIdentities = publication.exists
      ? await readReplicaIdentities(client, await publishedTables(client, publication.name))
      : [];
    return {
      settings,
      problems: settingsProblems(settings, { newSlot: true }).map((e) => e.message),
      publication,
      slots,
      replicaIdentities,
    };
  });
}

/** Remove what walSetup (or the source) created: the publication, and a permanent slot if named. */
export async function walDrop(options: WalDropOptions): Promise<WalDropResult> {
  if (options.permanentSlot !== undefined) assertSlotName(options.permanentSlot);
  return withClient(options, async (client) => {
    const slotDropped =
      options.permanentSlot === undefined ? false : await dropSlot(client, options.permanentSlot);
    const publicationDropped = await dropPublication(client, options.publication ?? DEFAULT_PUBLICATION);
    return { publicationDropped, slotDropped };
  });
}

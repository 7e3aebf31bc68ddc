import type pg from "pg";
import type { TableRef } from "../../events/table-name.js";
import { PublicationError } from "./errors.js";
import { quoteIdent } from "./quote.js";

export const DEFAULT_PUBLICATION = "pgcachewatch";

/** What a publication covers. */
export interface PublicationInfo {
  readonly name: string;
  readonly exists: boolean;
  readonly allTables: boolean;
  /** Tables it publishes (for FOR ALL TABLES: empty; see `allTables`). */
  readonly tables: readonly TableRef[];
  /** Operations it publishes. */
  readonly publishes: readonly ("insert" | "update" | "delete" | "truncate")[];
}

export interface EnsurePublicationResult {
  readonly created: boolean;
  readonly added: readonly TableRef[];
  readonly publication: PublicationInfo;
}

const ALL_OPERATIONS = "insert, update, delete, truncate";

function tableList(tables: readonly TableRef[]): string {
  return tables.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`).join(", ");
}

export async function describePublication(client: pg.Client, name: string): Promise<PublicationInfo> {
  const { rows } = await client.query<{
    puballtables: boolean;
    pubinsert: boolean;
    pubupdate: boolean;
    pubdelete: boolean;
    pubtruncate: boolean;
  }>(
    "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1",
    [name],
  );
  const row = rows[0];
  if (!row) return { name, exists: false, allTables: false, tables: [], publishes: [] };
  const publishes: ("insert" | "update" | "delete" | "truncate")[] = [];
  if (row.pubinsert) publishes.push("insert");
  if (row.pubupdate) publishes.push("update");
  if (row.pubdelete) publishes.push("delete");
  if (row.pubtruncate) publishes.push("truncate");
  let tables: TableRef[] = [];
  if (!row.puballtables) {
    const result = await client.query<{ schemaname: string; tablename: string }>(
      "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2",
      [name],
    );
    tables = result.rows.map((r) => ({ schema: r.schemaname, table: r.tablename }));
  }
  return { name, exists: true, allTables: row.puballtables, tables, publishes };
}

/**
 * Create the publication, or alter it to publish every operation of every requested table.
 * Idempotent and additive: tables already in it stay (another application may watch them).
 */
export async function ensurePublication(
  client: pg.Client,
  name: string,
  tables: readonly TableRef[] | "all",
  serverVersionNum: number,
): Promise<EnsurePublicationResult> {
  // Two instances starting at once may race on CREATE/ADD; the loser retries against the new state.
  for (let attempt = 0; ; attempt++) {
    try {
      return await ensureOnce(client, name, tables, serverVersionNum);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "42710" && attempt < 3) continue; // duplicate_object
      if (code === "42501") {
        throw new PublicationError(
          "PUBLICATION_PERMISSION_DENIED",
          `role may not create or change publication "${name}": ${(error as Error).message}`,
          tables === "all"
            ? "FOR ALL TABLES needs a superuser: run `pgcachewatch wal setup --all-tables` as one, then start with managePublication: false."
            : "run `pgcachewatch wal setup --tables ...` as the owner of the tables (creating a publication needs CREATE on the database), then start with managePublication: false.",
          { cause: error },
        );
      }
      throw error;
    }
  }
}

async function ensureOnce(
  client: pg.Client,
  name: string,
  tables: readonly TableRef[] | "all",
  serverVersionNum: number,
): Promise<EnsurePublicationResult> {
  // Partition changes are reported under the partitioned table's name, which is what queries name.
  const options =
    serverVersionNum >= 130000
      ? `publish = '${ALL_OPERATIONS}', publish_via_partition_root = true`
      : `publish = '${ALL_OPERATIONS}'`;
  const current = await describePublication(client, name);
  if (!current.exists) {
    const target =
      tables === "all" ? "FOR ALL TABLES" : tables.length > 0 ? `FOR TABLE ${tableList(tables)}` : "";
    await client.query(`CREATE PUBLICATION ${quoteIdent(name)} ${target} WITH (${options})`);
    return {
      created: true,
      added: tables === "all" ? [] : tables,
      publication: await describePublication(client, name),
    };
  }
  if (tables === "all" && !current.allTables) {
    throw new PublicationError(
      "PUBLICATION_NOT_ALL_TABLES",
      `publication "${name}" exists for a list of tables, but allTables was requested.`,
      `drop it with \`pgcachewatch wal drop --publication ${name}\` (or \`DROP PUBLICATION ${quoteIdent(name)};\`) and start again, or watch a list of tables.`,
    );
  }
  if (current.publishes.length < 4) {
    await client.query(`ALTER PUBLICATION ${quoteIdent(name)} SET (${options})`);
  }
  let added: TableRef[] = [];
  if (tables !== "all" && !current.allTables) {
    const have = new Set(current.tables.map(formatKey));
    added = tables.filter((t) => !have.has(formatKey(t)));
    if (added.length > 0)
      await client.query(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${tableList(added)}`);
  }
  return { created: false, added, publication: await describePublication(client, name) };
}

function formatKey(ref: TableRef): string {
  return `${ref.schema}\u0000${ref.table}`;
}

/** Drop the publication if it exists. Returns whether it existed. */
export async function dropPublication(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [name]);
  if (!rowCount) return false;
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
  return true;
}

/** Does the publication cover this table? */
export function publicationCovers(publication: PublicationInfo, ref: TableRef): boolean {
  if (!publication.exists) return false;
  if (publication.allTables) return true;
  const key = formatKey(ref);
  return publication.tables.some((t) => formatKey(t) === key);
}

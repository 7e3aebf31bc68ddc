import { randomBytes } from "node:crypto";
import pg from "pg";
import { quoteIdent } from "./identifiers.js";

export interface TestDatabase {
  /** Connection URL of this file's own database. */
  readonly url: string;
  readonly name: string;
  /** Superuser URL of the server's maintenance database (for server-wide actions in tests). */
  readonly adminUrl: string;
  /** Drop the database, terminating any connection still open on it. Idempotent. */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

async function withAdmin<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Create a uniquely named database on the server behind `adminUrl`. */
export async function createTestDatabase(adminUrl: string, label = "t"): Promise<TestDatabase> {
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .slice(0, 30);
  const name = `pgcw_${slug}_${randomBytes(4).toString("hex")}`;
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  let dropped = false;
  return {
    url: withDatabase(adminUrl, name),
    name,
    adminUrl,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(adminUrl, async (c) => {
        const { rows } = await c.query<{ v: number }>(
          "SELECT current_setting('server_version_num')::int AS v",
        );
        // WITH (FORCE) exists from PostgreSQL 13; before that, terminate sessions by hand.
        if ((rows[0]?.v ?? 0) >= 130000) {
          await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
        } else {
          await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
          await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
        }
      });
    },
  };
}

/**
 * Open an "external writer": a raw `pg` client on its own connection, standing in for another
 * service, a migration or a person in psql. Nothing under test knows about it.
 */
export async function openExternalWriter(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: "pgcw-external-writer" });
  await client.connect();
  return client;
}

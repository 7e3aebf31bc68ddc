import type { ClientBase, Pool } from "pg";

/**
 * Where the trigger functions run their SQL: a connected `pg.Client`, a checked-out `PoolClient`,
 * or a `pg.Pool` (a connection is checked out for the duration of the call, since installs run in
 * a transaction).
 */
export type TriggerClient = ClientBase | Pool;

function isPool(client: TriggerClient): client is Pool {
  return "totalCount" in client && typeof (client as Pool).connect === "function";
}

/** Run `work` on one connection. */
export async function withConnection<T>(
  client: TriggerClient,
  work: (connection: ClientBase) => Promise<T>,
): Promise<T> {
  if (!isPool(client)) return work(client);
  const connection = await client.connect();
  try {
    return await work(connection);
  } finally {
    connection.release();
  }
}

/** Run `work` in a transaction on one connection; roll back if it throws. */
export async function inTransaction<T>(
  client: TriggerClient,
  work: (connection: ClientBase) => Promise<T>,
): Promise<T> {
  return withConnection(client, async (connection) => {
    await connection.query("BEGIN");
    try {
      const result = await work(connection);
      await connection.query("COMMIT");
      return result;
    } catch (error) {
      await connection.query("ROLLBACK").catch(() => {});
      throw error;
    }
  });
}

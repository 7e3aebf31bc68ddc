import { SESSION_IDENTITY_SQL, type SessionIdentity, sessionIdentity } from "@pgcachewatch/core/adapter";
import { type AbortableOperationOptions, CompiledQuery, type Driver } from "kysely";
import { SessionIdentityError } from "./errors.js";

/**
 * The role and search_path of a driver's connections, read once, on a connection of the driver
 * (its connect hooks have run on it). Every connection of one pool shares its credentials and
 * startup options; a session that changes them later (`SET ROLE`, `SET search_path`) is a
 * reserved connection, which caches only with a scope.
 */
export async function readSessionIdentity(
  driver: Driver,
  options?: AbortableOperationOptions,
): Promise<SessionIdentity> {
  const connection = await driver.acquireConnection(options);
  try {
    const { rows } = await connection.executeQuery<{ role: string; search_path: string }>(
      CompiledQuery.raw(SESSION_IDENTITY_SQL),
    );
    const row = rows[0];
    if (row === undefined) throw new SessionIdentityError();
    return sessionIdentity(row);
  } finally {
    await driver.releaseConnection(connection, options);
  }
}

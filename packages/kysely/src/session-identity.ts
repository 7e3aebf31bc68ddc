import { type AbortableOperationOptions, CompiledQuery, type Driver } from "kysely";
import { SessionIdentityError } from "./errors.js";

/**
 * Who the connections of a driver are: the role they run as and the search_path they resolve
 * unqualified names with. Both change what the same SQL text returns (column privileges, which
 * `items` table), so both are part of every key, and the search_path goes to the analyzer.
 */
export interface SessionIdentity {
  readonly role: string;
  /** The connection's search_path with `$user` replaced by the role, as PostgreSQL applies it. */
  readonly searchPath: string;
  /** `role` and `searchPath` as one key part. */
  readonly key: string;
}

const IDENTITY_SQL = "select current_user as role, current_setting('search_path') as search_path";

/**
 * Read the identity once, on a connection of the driver (its connect hooks have run on it). Every
 * connection of one pool shares its credentials and startup options; a session that changes them
 * later (`SET ROLE`, `SET search_path`) is a reserved connection, which caches only with a scope.
 */
export async function readSessionIdentity(
  driver: Driver,
  options?: AbortableOperationOptions,
): Promise<SessionIdentity> {
  const connection = await driver.acquireConnection(options);
  try {
    const { rows } = await connection.executeQuery<{ role: string; search_path: string }>(
      CompiledQuery.raw(IDENTITY_SQL),
    );
    const row = rows[0];
    if (row === undefined) throw new SessionIdentityError();
    const searchPath = resolveUserSchema(row.search_path, row.role);
    return { role: row.role, searchPath, key: `${row.role}\u0000${searchPath}` };
  } finally {
    await driver.releaseConnection(connection, options);
  }
}

/** `"$user", public` as role `ada` sees it: `"ada", public` (the same path, for any reader). */
export function resolveUserSchema(searchPath: string, role: string): string {
  const entries: string[] = [];
  let current = "";
  let quoted = false;
  for (const char of searchPath) {
    if (char === '"') quoted = !quoted;
    if (char === "," && !quoted) {
      entries.push(current.trim());
      current = "";
    } else {
      current += char;
    }
  }
  entries.push(current.trim());
  const roleSchema = `"${role.replaceAll('"', '""')}"`;
  return entries
    .filter((entry) => entry.length > 0)
    .map((entry) => (entry === '"$user"' || entry === "$user" ? roleSchema : entry))
    .join(", ");
}

/**
 * Who a connection is, as far as a cached result is concerned: the role it runs as (column and
 * table privileges decide what the same SQL returns) and the search_path it resolves unqualified
 * names with (which `items` table). Both are part of every key an adapter builds for that
 * connection, and the search_path is what the analyzer resolves its names with.
 */
export interface SessionIdentity {
  readonly role: string;
  /** The session's search_path with `$user` replaced by the role, as PostgreSQL applies it. */
  readonly searchPath: string;
  /** `role` and `searchPath` as one key part. */
  readonly key: string;
}

/** Read once per pool (or client): its connections share their credentials and startup options. */
export const SESSION_IDENTITY_SQL =
  "SELECT current_user AS role, current_setting('search_path') AS search_path";

/** The identity from the row {@link SESSION_IDENTITY_SQL} returns. */
export function sessionIdentity(row: { role: string; search_path: string }): SessionIdentity {
  const searchPath = resolveUserSchema(row.search_path, row.role);
  return { role: row.role, searchPath, key: `${row.role}\u0000${searchPath}` };
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

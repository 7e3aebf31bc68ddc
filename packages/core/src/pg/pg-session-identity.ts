import { UnexpectedServerResponseError } from "../errors.js";
import { SESSION_IDENTITY_SQL, type SessionIdentity, sessionIdentity } from "../keys/session-identity.js";
import type { PgQueryable } from "./cached-pg-query.js";

const identities = new WeakMap<PgQueryable, SessionIdentity | Promise<SessionIdentity>>();

/**
 * The role and search_path of a pool's (or client's) sessions, read with one query on first use
 * and remembered: synchronous from then on, so a hit does no I/O. A pool's connections share their
 * credentials and startup options (`options: "-c search_path=..."`); a session that changes
 * them later (`SET ROLE`, `SET search_path`) must say so with a scope (or `searchPath`).
 */
export function pgSessionIdentity(client: PgQueryable): SessionIdentity | Promise<SessionIdentity> {
  const known = identities.get(client);
  if (known !== undefined) return known;
  const reading = client.query(SESSION_IDENTITY_SQL).then(
    (result) => {
      const row = result.rows[0] as { role: string; search_path: string } | undefined;
      if (row === undefined)
        throw new UnexpectedServerResponseError("the session identity query returned no row");
      const identity = sessionIdentity(row);
      identities.set(client, identity);
      return identity;
    },
    (error: unknown) => {
      // Not remembered: the next query asks again.
      identities.delete(client);
      throw error;
    },
  );
  identities.set(client, reading);
  return reading;
}

import { SESSION_IDENTITY_SQL, type SessionIdentity, sessionIdentity } from "@pgcachewatch/core/adapter";
import { CompiledQuery, type DatabaseConnection } from "kysely";

/** Statements that may change a session's role or search_path (`SET LOCAL` too: until the transaction ends). */
const IDENTITY_CHANGE =
  /^\s*(?:(?:set|reset)\s+(?:session\s+|local\s+)?(?:role|search_path|session\s+authorization|all)\b|discard\s+all\b)|\bset_config\s*\(\s*'(?:role|search_path)'/i;
/** Statements that end a transaction: a `SET LOCAL` made inside it is undone. */
const TRANSACTION_END = /^\s*(?:commit|rollback|end|abort)\b/i;

/**
 * Pool connections whose role or search_path differ from their pool's: a statement changed them
 * (`SET ROLE`, `SET search_path`, `set_config('search_path', ...)`), and such a change outlives
 * the request that made it (the connection goes back to the pool with it). Every key names the
 * pool's identity, so a read on such a connection is not stored (and a reserved one reads no
 * entry); its statements are analysed with the search_path it really has. After a statement that
 * may have changed it, the connection's identity is read again (one query, only then).
 */
export class SessionChanges {
  readonly #identities = new WeakMap<DatabaseConnection, SessionIdentity | undefined>();

  /** Whether `sql`, run on `connection`, may have changed its identity (then call {@link refresh}). */
  mayChange(connection: DatabaseConnection, sql: string): boolean {
    return IDENTITY_CHANGE.test(sql) || (this.#identities.has(connection) && TRANSACTION_END.test(sql));
  }

  /** Read `connection`'s identity again; the pool's identity means it is back to normal. */
  async refresh(connection: DatabaseConnection, pool: SessionIdentity | undefined): Promise<void> {
    let identity: SessionIdentity | undefined;
    try {
      const { rows } = await connection.executeQuery<{ role: string; search_path: string }>(
        CompiledQuery.raw(SESSION_IDENTITY_SQL),
      );
      identity = rows[0] === undefined ? undefined : sessionIdentity(rows[0]);
    } catch {
      // An aborted transaction refuses every query: the identity is unknown until it ends.
      identity = undefined;
    }
    if (identity !== undefined && identity.key === pool?.key) this.#identities.delete(connection);
    else this.#identities.set(connection, identity);
  }

  /** Whether `connection` runs with another role or search_path than its pool's (or an unknown one). */
  changed(connection: DatabaseConnection): boolean {
    return this.#identities.has(connection);
  }

  /** The search_path `connection` really has, when it differs from its pool's and is known. */
  searchPath(connection: DatabaseConnection): string | undefined {
    return this.#identities.get(connection)?.searchPath;
  }
}

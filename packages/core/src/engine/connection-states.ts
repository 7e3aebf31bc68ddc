import type { Mutation } from "./load-request.js";

interface ConnectionState {
  inTransaction: boolean;
  /** Writes made inside the transaction: completed at its COMMIT or ROLLBACK. */
  readonly pending: Mutation[];
}

/**
 * Transactions per connection, whoever opened them: the read path asks whether the connection a
 * read runs on is inside one (then it neither reads nor fills the shared cache), and the write
 * path defers a write's invalidation to the end of its transaction. Connections are whatever
 * object an adapter runs statements on (a pg.Client, a PoolClient, a driver's transaction);
 * held weakly, so a closed connection is forgotten with it.
 */
export class ConnectionStates {
  readonly #states = new WeakMap<object, ConnectionState>();

  inTransaction(connection: object | undefined): boolean {
    return connection !== undefined && this.#states.get(connection)?.inTransaction === true;
  }

  begin(connection: object): void {
    const state = this.#states.get(connection);
    if (state) state.inTransaction = true;
    else this.#states.set(connection, { inTransaction: true, pending: [] });
  }

  /** COMMIT or ROLLBACK finished (or failed): the transaction's writes become visible, or vanish. */
  end(connection: object): void {
    const state = this.#states.get(connection);
    if (!state) return;
    state.inTransaction = false;
    // Invalidating after a ROLLBACK too is always safe.
    for (const mutation of state.pending.splice(0)) mutation.complete();
  }

  /** Complete `mutation` now, or at the end of the connection's transaction. */
  completeWrite(connection: object | undefined, mutation: Mutation): void {
    const state = connection === undefined ? undefined : this.#states.get(connection);
    if (state?.inTransaction) state.pending.push(mutation);
    else mutation.complete();
  }
}

import { PgDatabase } from "drizzle-orm/pg-core";
import { connectionOf } from "./drizzle-internals.js";
import { cacheOfSession } from "./pg-cache-watch-cache.js";

interface TransactionInternals {
  readonly session: { readonly client?: unknown };
  transaction(callback: (tx: TransactionInternals) => Promise<unknown>, config?: unknown): Promise<unknown>;
}

/**
 * Drivers whose transactions are API calls (postgres-js `sql.begin()` and `savepoint()`) send no
 * BEGIN the engine could see, and give the transaction a client of its own. Mark that client as
 * inside a transaction for the whole of the outermost `db.transaction()`, nested ones included,
 * and end it once the outermost settled (after COMMIT or ROLLBACK). node-postgres sends BEGIN
 * as SQL through the engine, so its connection is already marked and nothing is added.
 */
export function installTransactionTracking(): void {
  const database = PgDatabase.prototype as unknown as TransactionInternals;
  const original = database.transaction;
  database.transaction = function transaction(this: TransactionInternals, callback, config) {
    const cache = cacheOfSession(this.session);
    if (cache === undefined) return original.call(this, callback, config);
    const { watch } = cache;
    const opened: object[] = [];
    const track = (tx: TransactionInternals) => {
      const connection = connectionOf(tx.session.client);
      if (connection !== undefined && !watch.inTransaction(connection)) {
        watch.beginTransaction(connection);
        opened.push(connection);
      }
      const nested = tx.transaction;
      tx.transaction = (inner, innerConfig) =>
        nested.call(
          tx,
          (innerTx) => {
            track(innerTx);
            return inner(innerTx);
          },
          innerConfig,
        );
    };
    return original
      .call(
        this,
        (tx) => {
          track(tx);
          return callback(tx);
        },
        config,
      )
      .finally(() => {
        for (const connection of opened) watch.endTransaction(connection);
      });
  };
}

import { AsyncLocalStorage } from "node:async_hooks";
import type { CacheWatch, Mutation } from "@pgcachewatch/core";

/** One `db.transaction(...)` on a db backed by `watch`: its session, and the writes to complete after it ends. */
export interface TransactionScope {
  readonly watch: CacheWatch;
  readonly parent: TransactionScope | undefined;
  /** The transaction's session (`tx.session`), known once Drizzle has begun the transaction. */
  session: object | undefined;
  readonly pending: Mutation[];
}

/** Per async context, so concurrent requests and separate db instances never see each other's transactions. */
const scopes = new AsyncLocalStorage<TransactionScope>();

export function runInTransactionScope<T>(scope: TransactionScope, fn: () => Promise<T>): Promise<T> {
  return scopes.run(scope, fn);
}

export function currentScope(): TransactionScope | undefined {
  return scopes.getStore();
}

/**
 * The transaction of `watch` that a query on `session` (or on a connection `client`) runs in, if any.
 * A query on the transaction's own session or connection is inside it; a query on another connection
 * (e.g. the outer `db` on a pool, called inside the callback) is not. When the connection cannot be
 * told apart, the query counts as inside: bypassing the cache is always safe.
 */
export function transactionOf(
  watch: CacheWatch,
  target: { session?: object | undefined; client?: unknown },
): TransactionScope | undefined {
  for (let scope = currentScope(); scope !== undefined; scope = scope.parent) {
    if (scope.watch !== watch) continue;
    const txSession = scope.session as { client?: unknown } | undefined;
    if (txSession === undefined) return scope;
    if (target.session !== undefined) {
      if (target.session === txSession) return scope;
      const client = (target.session as { client?: unknown }).client;
      if (client === undefined || txSession.client === undefined || client === txSession.client) return scope;
      continue;
    }
    if (target.client === undefined || txSession.client === undefined || target.client === txSession.client)
      return scope;
  }
  return undefined;
}

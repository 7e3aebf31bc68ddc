import type { CacheWatch } from "@pgcachewatch/core";
import { connectionIdentity } from "./connection-identity.js";
import type { DriverAdapterFactoryLike } from "./prisma-internals.js";

/** The part of a driver adapter's query Prisma 7 hands to `queryRaw` / `executeRaw`. */
interface SqlQueryLike {
  readonly sql: string;
  readonly args?: readonly unknown[];
}

type QueryMethod = (query: SqlQueryLike) => Promise<unknown>;
type AnyMethod = (...args: unknown[]) => Promise<unknown>;

const routers = new WeakMap<object, StatementRouter>();

/**
 * Sends every statement Prisma runs through the engines of the clients built on one driver adapter
 * factory (`watch.runStatement`): each statement is analysed, recorded against the load it belongs
 * to, and a write invalidates what it wrote when it completes, or at the end of its transaction.
 * Prisma 7 compiles queries in JS and calls the adapter in the caller's async context, so the
 * engine's load scope reaches the adapter. Statements on the pool carry no connection; those inside
 * an interactive or batch transaction carry the adapter's transaction object.
 */
export class StatementRouter {
  readonly #watches = new Set<CacheWatch>();
  /** The search_path the factory's pool sets, for the analyzer to resolve unqualified names. */
  readonly #searchPath: string | undefined;

  private constructor(searchPath: string | undefined) {
    this.#searchPath = searchPath;
  }

  /** The router of `factory`, wrapping its `connect()` the first time (connections made earlier are not seen). */
  static for(factory: DriverAdapterFactoryLike): StatementRouter {
    let router = routers.get(factory);
    if (!router) {
      const created = new StatementRouter(connectionIdentity(factory).searchPath);
      router = created;
      routers.set(factory, created);
      const connect = factory.connect.bind(factory);
      (factory as { connect: () => Promise<unknown> }).connect = async () => {
        const adapter = await connect();
        created.#instrument(adapter, undefined);
        return adapter;
      };
    }
    return router;
  }

  /** Report this factory's statements to `watch` too. */
  add(watch: CacheWatch): void {
    this.#watches.add(watch);
  }

  #run(query: SqlQueryLike, connection: object | undefined, send: () => Promise<unknown>): Promise<unknown> {
    if (typeof query?.sql !== "string") return send();
    const statement = {
      sql: query.sql,
      ...(Array.isArray(query.args) ? { params: query.args } : {}),
      ...(connection === undefined ? {} : { connection }),
      ...(this.#searchPath === undefined ? {} : { searchPath: this.#searchPath }),
    };
    // Usually one engine; with several, each sees the statement (the innermost sends it).
    let run = send;
    for (const watch of this.#watches) {
      // A stopped engine is replaced by a new one for the same URL: forget it.
      if (watch.state === "stopped") {
        this.#watches.delete(watch);
        continue;
      }
      const inner = run;
      run = () => watch.runStatement(statement, inner);
    }
    return run();
  }

  /** `connection`: undefined for the pool adapter, the transaction object for one of its transactions. */
  #instrument(queryable: unknown, connection: object | undefined): void {
    if (typeof queryable !== "object" || queryable === null) return;
    const target = queryable as Record<string, unknown>;
    for (const name of ["queryRaw", "executeRaw"] as const) {
      const method = target[name];
      if (typeof method !== "function") continue;
      const bound = (method as QueryMethod).bind(queryable);
      target[name] = (query: SqlQueryLike) => this.#run(query, connection, () => bound(query));
    }
    const start = target.startTransaction;
    if (typeof start === "function") {
      const bound = (start as AnyMethod).bind(queryable);
      target.startTransaction = async (...args: unknown[]) => {
        // The adapter sends BEGIN itself before it hands the transaction out.
        const transaction = await bound(...args);
        if (typeof transaction === "object" && transaction !== null) {
          for (const watch of this.#watches) watch.beginTransaction(transaction);
          this.#instrument(transaction, transaction);
          this.#endOn(transaction);
        }
        return transaction;
      };
    }
  }

  /**
   * Prisma sends COMMIT / ROLLBACK through `executeRaw` (seen as SQL), then calls `commit()` /
   * `rollback()` to release the connection; ending there too covers a driver that sends nothing.
   */
  #endOn(transaction: object): void {
    const target = transaction as Record<string, unknown>;
    for (const name of ["commit", "rollback"] as const) {
      const method = target[name];
      if (typeof method !== "function") continue;
      const bound = (method as AnyMethod).bind(transaction);
      target[name] = async (...args: unknown[]) => {
        try {
          return await bound(...args);
        } finally {
          for (const watch of this.#watches) watch.endTransaction(transaction);
        }
      };
    }
  }
}

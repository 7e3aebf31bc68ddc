import type {
  AbortableOperationOptions,
  DatabaseConnection,
  Driver,
  QueryCompiler,
  TransactionSettings,
} from "kysely";
import { CacheConnection } from "./cache-connection.js";
import type { CacheContext } from "./cache-context.js";
import { ForeignConnectionError, SavepointUnsupportedError } from "./errors.js";
import { takePass } from "./query-pass.js";
import { readSessionIdentity } from "./session-identity.js";

type CompileQuery = QueryCompiler["compileQuery"];

/**
 * Wraps a dialect's driver. Connections it hands out are {@link CacheConnection}s; transaction
 * control reaches the pool connection behind them and is reported to the engine for that pool
 * connection, so reads on it bypass the cache and writes invalidate after COMMIT or ROLLBACK.
 */
export class CacheDriver implements Driver {
  readonly #context: CacheContext;
  readonly #driver: Driver;

  constructor(context: CacheContext) {
    this.#context = context;
    this.#driver = context.driver;
  }

  async init(options?: AbortableOperationOptions): Promise<void> {
    await this.#driver.init(options);
    this.#context.session = await readSessionIdentity(this.#driver, options);
  }

  async acquireConnection(options?: AbortableOperationOptions): Promise<DatabaseConnection> {
    // Synchronously, before any await: the pass open now is the query that is acquiring (if any).
    const pass = takePass(this.#context.owner);
    const connection = new CacheConnection(this.#context, pass);
    // Acquired for a single query: the pool is touched only if the query needs the database.
    if (pass === undefined) await connection.materialize(options);
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const real = await asCacheConnection(connection).materialize();
    // Before BEGIN is sent: any statement on this pool connection from now on may see the transaction.
    this.#context.watch.beginTransaction(real);
    try {
      await this.#driver.beginTransaction(real, settings);
    } catch (error) {
      this.#context.watch.endTransaction(real);
      throw error;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const real = await asCacheConnection(connection).materialize();
    try {
      await this.#driver.commitTransaction(real);
    } finally {
      // The transaction's writes become visible (or, for a failed COMMIT, vanish): invalidate now.
      this.#context.watch.endTransaction(real);
      await this.#afterTransaction(real);
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const real = await asCacheConnection(connection).materialize();
    try {
      await this.#driver.rollbackTransaction(real);
    } finally {
      this.#context.watch.endTransaction(real);
      await this.#afterTransaction(real);
    }
  }

  /** A `SET LOCAL ROLE` / `SET LOCAL search_path` ends with its transaction. */
  async #afterTransaction(real: DatabaseConnection): Promise<void> {
    const { sessionChanges, session } = this.#context;
    if (sessionChanges.changed(real)) await sessionChanges.refresh(real, session);
  }

  async savepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: CompileQuery,
  ): Promise<void> {
    if (!this.#driver.savepoint) throw new SavepointUnsupportedError("savepoint");
    await this.#driver.savepoint(
      await asCacheConnection(connection).materialize(),
      savepointName,
      compileQuery,
    );
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: CompileQuery,
  ): Promise<void> {
    if (!this.#driver.rollbackToSavepoint) {
      throw new SavepointUnsupportedError("rollbackToSavepoint");
    }
    const real = await asCacheConnection(connection).materialize();
    await this.#driver.rollbackToSavepoint(real, savepointName, compileQuery);
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: CompileQuery,
  ): Promise<void> {
    if (!this.#driver.releaseSavepoint) {
      throw new SavepointUnsupportedError("releaseSavepoint");
    }
    await this.#driver.releaseSavepoint(
      await asCacheConnection(connection).materialize(),
      savepointName,
      compileQuery,
    );
  }

  releaseConnection(connection: DatabaseConnection, options?: AbortableOperationOptions): Promise<void> {
    let cache: CacheConnection;
    try {
      cache = asCacheConnection(connection);
    } catch (error) {
      return Promise.reject(error);
    }
    // A hit: no pool connection was taken and nothing runs, so there is nothing to wait for.
    if (cache.real === undefined && cache.idle) return Promise.resolve();
    return this.#release(cache, options);
  }

  async #release(cache: CacheConnection, options: AbortableOperationOptions | undefined): Promise<void> {
    // A load abandoned by an aborted caller may still run on it for other waiters: let it finish.
    await cache.settled();
    const real = cache.real;
    if (real) await this.#driver.releaseConnection(real, options);
  }

  destroy(options?: AbortableOperationOptions): Promise<void> {
    return this.#driver.destroy(options);
  }
}

function asCacheConnection(connection: DatabaseConnection): CacheConnection {
  if (connection instanceof CacheConnection) return connection;
  throw new ForeignConnectionError();
}

import type {
  AbortableOperationOptions,
  DatabaseConnection,
  Driver,
  QueryCompiler,
  TransactionSettings,
} from "kysely";
import { CacheConnection } from "./cache-connection.js";
import type { CacheContext } from "./cache-context.js";
import { takePass } from "./query-pass.js";

type CompileQuery = QueryCompiler["compileQuery"];

/**
 * Wraps a dialect's driver. Connections it hands out are {@link CacheConnection}s; transaction
 * control reaches the pool connection behind them, and marks them so reads bypass the cache and
 * writes invalidate after COMMIT or ROLLBACK.
 */
export class CacheDriver implements Driver {
  readonly #context: CacheContext;
  readonly #driver: Driver;

  constructor(context: CacheContext) {
    this.#context = context;
    this.#driver = context.driver;
  }

  init(options?: AbortableOperationOptions): Promise<void> {
    return this.#driver.init(options);
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
    const cache = asCacheConnection(connection);
    cache.beginTransaction();
    await this.#driver.beginTransaction(await cache.materialize(), settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const cache = asCacheConnection(connection);
    try {
      await this.#driver.commitTransaction(await cache.materialize());
    } finally {
      cache.endTransaction();
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const cache = asCacheConnection(connection);
    try {
      await this.#driver.rollbackTransaction(await cache.materialize());
    } finally {
      cache.endTransaction();
    }
  }

  async savepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: CompileQuery,
  ): Promise<void> {
    if (!this.#driver.savepoint) throw new Error("The `savepoint` method is not supported by this driver");
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
      throw new Error("The `rollbackToSavepoint` method is not supported by this driver");
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
      throw new Error("The `releaseSavepoint` method is not supported by this driver");
    }
    await this.#driver.releaseSavepoint(
      await asCacheConnection(connection).materialize(),
      savepointName,
      compileQuery,
    );
  }

  async releaseConnection(
    connection: DatabaseConnection,
    options?: AbortableOperationOptions,
  ): Promise<void> {
    const cache = asCacheConnection(connection);
    // A load abandoned by an aborted caller may still run on it for other waiters: let it finish.
    await cache.settled();
    // Whatever this session wrote is committed or rolled back once the connection goes back.
    cache.completeWrites();
    const real = cache.real;
    if (real) await this.#driver.releaseConnection(real, options);
  }

  destroy(options?: AbortableOperationOptions): Promise<void> {
    return this.#driver.destroy(options);
  }
}

function asCacheConnection(connection: DatabaseConnection): CacheConnection {
  if (connection instanceof CacheConnection) return connection;
  throw new TypeError("pgcachewatch: the driver received a connection it did not hand out");
}

import type { DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler } from "kysely";
import type { CacheWatchApi } from "./cache-context.js";
import { CacheDriver } from "./cache-driver.js";
import { SessionChanges } from "./session-changes.js";

/** A dialect whose driver serves cache hits without a pool connection; everything else is the wrapped dialect's. */
export class CacheDialect implements Dialect {
  readonly #dialect: Dialect;
  readonly #owner: object;
  readonly #watch: CacheWatchApi;
  readonly #ttl: number | undefined;
  readonly #onDriver: () => void;

  constructor(
    dialect: Dialect,
    owner: object,
    watch: CacheWatchApi,
    ttl: number | undefined,
    onDriver: () => void,
  ) {
    this.#dialect = dialect;
    this.#owner = owner;
    this.#watch = watch;
    this.#ttl = ttl;
    this.#onDriver = onDriver;
  }

  createDriver(): Driver {
    this.#onDriver();
    return new CacheDriver({
      owner: this.#owner,
      watch: this.#watch,
      driver: this.#dialect.createDriver(),
      ttl: this.#ttl,
      session: undefined,
      sessionChanges: new SessionChanges(),
    });
  }

  createQueryCompiler(): QueryCompiler {
    return this.#dialect.createQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return this.#dialect.createAdapter();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface declares Kysely<any> here.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.#dialect.createIntrospector(db);
  }
}

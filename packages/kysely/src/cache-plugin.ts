import type {
  Dialect,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import type { CacheWatchApi } from "./cache-context.js";
import { CacheDialect } from "./cache-dialect.js";
import { CacheDialectMissingError, InvalidCacheOptionError } from "./errors.js";
import { openPass } from "./query-pass.js";

export interface PgCacheWatchPluginOptions {
  /** Default ttl in ms for queries whose `cached()` gives none. Default: the engine's ttl. */
  readonly ttl?: number;
}

/**
 * The Kysely integration of a CacheWatch: one object, registered twice in the same `new Kysely()`:
 *
 *   new Kysely<DB>({ dialect: cache.dialect(new PostgresDialect({ pool })), plugins: [cache] })
 *
 * As a plugin it follows each query through compilation (so `cached()` markers can flag it). Its
 * `dialect()` wraps the dialect's driver, because a plugin cannot skip execution: the wrapped driver
 * answers cache hits without acquiring a pool connection.
 */
export class PgCacheWatchPlugin implements KyselyPlugin {
  readonly #watch: CacheWatchApi;
  readonly #ttl: number | undefined;
  #drivers = 0;

  constructor(watch: CacheWatchApi, options: PgCacheWatchPluginOptions = {}) {
    if (options.ttl !== undefined && !(Number.isFinite(options.ttl) && options.ttl >= 0)) {
      throw new InvalidCacheOptionError("ttl", `expected a number of ms >= 0, got ${String(options.ttl)}`);
    }
    this.#watch = watch;
    this.#ttl = options.ttl;
  }

  /** Wrap the dialect so cache hits are answered without the pool. */
  dialect(dialect: Dialect): Dialect {
    return new CacheDialect(dialect, this, this.#watch, this.#ttl, () => {
      this.#drivers++;
    });
  }

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    if (this.#drivers === 0) throw new CacheDialectMissingError();
    openPass(this, queryId);
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

/** Create the Kysely integration of a CacheWatch (see {@link PgCacheWatchPlugin}). */
export function pgCacheWatch(watch: CacheWatchApi, options?: PgCacheWatchPluginOptions): PgCacheWatchPlugin {
  return new PgCacheWatchPlugin(watch, options);
}

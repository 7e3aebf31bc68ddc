import type { CacheWatch } from "@pgcachewatch/core";
import { cached, pgCacheWatch } from "@pgcachewatch/kysely";
import {
  type ColumnType,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from "kysely";
import pg from "pg";
import { type AdapterPair, CATEGORIES } from "./run-pair.js";

interface Database {
  items: {
    id: number;
    category: number;
    name: string;
    price: string;
    created_at: ColumnType<Date, never, never>;
    tags: string[];
    attributes: unknown;
  };
}

const select = (db: Kysely<Database>, category: number) =>
  db.selectFrom("items").selectAll().where("category", "=", category).orderBy("id").limit(10);

/**
 * Kysely over pg: `$call(cached())` on a client with the plugin and its dialect vs the same query
 * on a plain client.
 */
export function kyselyPair(url: string, watch: CacheWatch): AdapterPair {
  // Each client owns its pool (destroy() ends it).
  const plain = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
  });
  const plugin = pgCacheWatch(watch);
  const withCache = new Kysely<Database>({
    dialect: plugin.dialect(new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) })),
    plugins: [plugin],
  });
  return {
    name: "Kysely cached()",
    target: 20,
    uncached: (category) => select(plain, category).execute(),
    cached: (category) => select(withCache, category).$call(cached()).execute(),
    hits: () => watch.stats().hits,
    close: async () => {
      await plain.destroy();
      await withCache.destroy();
    },
  };
}

/**
 * Kysely's own cost of a hit: building and compiling the same query on a plain client, with no
 * cache involved (a cached() hit builds and compiles too; the rest of the hit is ours). Shown next to
 * the cached() row; its "uncached" column is the same query run uncached.
 */
export function kyselyCompilePair(url: string): AdapterPair {
  const plain = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
  });
  let compiled = 0;
  return {
    name: "Kysely query building alone (compile)",
    uncached: (category) => select(plain, category).execute(),
    cached: (category) => {
      const query = select(plain, category).compile();
      compiled++;
      return Promise.resolve(query);
    },
    // Every timed call is a compile, never a query: counted as the "hits" the row checks.
    hits: () => compiled,
    close: () => plain.destroy(),
  };
}

/**
 * Kysely executing the same query on a driver that answers from memory (the result a real run
 * returned, handed back as it is): Kysely's building, compiling, plugin passes and executor, with
 * no database and no cache. A cached() hit goes through that executor too (the plugin design), so
 * this is the floor Kysely imposes on a hit.
 */
export async function kyselyMemoryPair(url: string): Promise<AdapterPair> {
  const plain = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
  });
  const results = new Map<string, QueryResult<unknown>>();
  for (let c = 0; c < CATEGORIES; c++) {
    const query = select(plain, c).compile();
    results.set(JSON.stringify(query.parameters), await plain.executeQuery(query));
  }
  let answered = 0;
  const connection: DatabaseConnection = {
    executeQuery: <R>(query: CompiledQuery) => {
      const known = results.get(JSON.stringify(query.parameters));
      if (known === undefined) return Promise.reject(new Error(`no stored result for ${query.sql}`));
      answered++;
      return Promise.resolve(known as QueryResult<R>);
    },
    // biome-ignore lint/correctness/useYield: never streamed.
    streamQuery: async function* () {
      throw new Error("not streamed");
    },
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const fromMemory = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return {
    name: "Kysely execute on a driver answering from memory",
    uncached: (category) => select(plain, category).execute(),
    cached: (category) => select(fromMemory, category).execute(),
    hits: () => answered,
    close: async () => {
      await plain.destroy();
      await fromMemory.destroy();
    },
  };
}

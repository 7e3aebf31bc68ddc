import { type CacheWatch, createCacheWatch, type InvalidateInfo } from "@pgcachewatch/core";
import type { DatabaseFixture } from "@pgcachewatch/testdb/vitest";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { pgCacheWatchCache } from "../../src/index.js";
import { SETUP_SQL, schema } from "./schema.js";

export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };

export interface Harness {
  readonly pool: pg.Pool;
  readonly watch: CacheWatch;
  readonly db: Db;
  close(): Promise<void>;
}

/** Create the schema, its data and NOTIFY triggers in the fixture's database. */
export async function createSchema(fixture: DatabaseFixture): Promise<void> {
  const client = new pg.Client({ connectionString: fixture.url });
  await client.connect();
  try {
    await client.query(SETUP_SQL);
  } finally {
    await client.end();
  }
}

/** A pool, a started engine on the real NOTIFY source, and a Drizzle db set up the way the README says. */
export async function openHarness(
  fixture: DatabaseFixture,
  options: { global?: boolean; source?: "notify" | "none" } = {},
): Promise<Harness> {
  const pool = new pg.Pool({ connectionString: fixture.url, max: 4 });
  const watch = createCacheWatch({ connectionString: fixture.url, source: options.source ?? "notify" });
  await watch.start();
  const db = drizzle({
    client: pool,
    schema,
    cache: pgCacheWatchCache(watch, { global: options.global }),
  }) as Db;
  return {
    pool,
    watch,
    db,
    async close() {
      await watch.stop();
      await pool.end();
    },
  };
}

/**
 * Hold queries whose text matches at a chosen point, so a test can interleave a read and a write
 * deterministically: `after` pauses once the database answered, `before` before the query is sent.
 */
export class QueryGate {
  #armed: { match: (text: string) => boolean; when: "before" | "after" } | undefined;
  #reached!: () => void;
  #release!: () => void;
  reached: Promise<void> = Promise.resolve();
  #released: Promise<void> = Promise.resolve();

  constructor(pool: pg.Pool) {
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (
      ...args: unknown[]
    ) => {
      const config = args[0] as string | { text: string };
      const text = typeof config === "string" ? config : config.text;
      const armed = this.#armed;
      const hold = armed?.match(text) ? armed : undefined;
      if (hold) this.#armed = undefined;
      if (hold?.when === "before") {
        this.#reached();
        await this.#released;
      }
      const result = await query(...args);
      if (hold?.when === "after") {
        this.#reached();
        await this.#released;
      }
      return result;
    };
  }

  /** Hold the next query whose SQL matches; `reached` resolves when it is held, `release()` lets it go. */
  arm(match: (text: string) => boolean, when: "before" | "after"): void {
    this.#armed = { match, when };
    this.reached = new Promise((resolve) => {
      this.#reached = resolve;
    });
    this.#released = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.#release();
  }
}

/** Resolve with the first invalidation matching `predicate`; reject after `timeoutMs` (a bound, not an assertion). */
export function nextInvalidation(
  watch: CacheWatch,
  predicate: (info: InvalidateInfo) => boolean,
  timeoutMs = 10_000,
): Promise<InvalidateInfo> {
  return new Promise((resolve, reject) => {
    const onInvalidate = (info: InvalidateInfo) => {
      if (!predicate(info)) return;
      clearTimeout(timer);
      watch.off("invalidate", onInvalidate);
      resolve(info);
    };
    const timer = setTimeout(() => {
      watch.off("invalidate", onInvalidate);
      reject(new Error(`no matching invalidation within ${timeoutMs} ms`));
    }, timeoutMs);
    watch.on("invalidate", onInvalidate);
  });
}

/** The change event for `table` ("schema.table") that an external write causes. */
export function changeOf(watch: CacheWatch, table: string): Promise<InvalidateInfo> {
  return nextInvalidation(watch, (info) => info.reason === "change" && info.tables.includes(table));
}

/** `schema.table` names of a derivation, sorted, for assertions and for the printed table list. */
export function tableNames(tables: readonly { schema: string; table: string }[]): string[] {
  return tables.map((t) => `${t.schema}.${t.table}`).sort();
}

/** Every table of the test schema, as `schema.table`. */
export const SCHEMA_TABLES = ["audit.log", "public.comments", "public.posts", "public.users"] as const;

/**
 * The tables a cached read's entry depends on, as the engine stored it: the read is cached alone,
 * then each candidate table is invalidated in turn to see whether it drops the entry. `undefined`
 * when the read was not stored at all.
 */
export async function storedDependencies(
  watch: CacheWatch,
  read: () => Promise<unknown>,
  candidates: readonly string[] = SCHEMA_TABLES,
): Promise<string[] | undefined> {
  const found: string[] = [];
  for (const table of candidates) {
    watch.invalidateAll();
    await read();
    if (watch.stats().entries === 0) return undefined;
    if (watch.invalidate({ tables: [table] }) > 0) found.push(table);
  }
  watch.invalidateAll();
  return found.sort();
}

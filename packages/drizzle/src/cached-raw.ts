import { queryKey } from "@pgcachewatch/core/adapter";
import { type CachedQueryOptions, loadCached } from "./cached-query.js";
import { plainResult } from "./statements.js";

/** Where `db.execute()` leaves the session its PgRaw runs on (Drizzle keeps it only in a closure). */
export const kRawSession = Symbol.for("@pgcachewatch/drizzle:rawSession");

/** The parts of the PgRaw that `db.execute(sql...)` returns. */
export interface RawQueryInternals {
  readonly [kRawSession]?: { readonly client?: unknown };
  getQuery(): { sql: string; params: unknown[] };
  execute(): Promise<unknown>;
}

/**
 * `db.execute(sql...).$cached()`: raw SQL, cached with the tables PostgreSQL's parser and catalog
 * find in it. The result is the driver's (for node-postgres: `rows`, `rowCount`, `command`, `oid`,
 * `fields`), as plain data.
 */
export function cachedRaw(raw: RawQueryInternals, options?: CachedQueryOptions): Promise<unknown> {
  const { sql, params } = raw.getQuery();
  return loadCached(
    {
      session: raw[kRawSession],
      key: queryKey(["drizzle:execute", sql], params),
      sql,
      run: async () => plainResult(await raw.execute()),
    },
    options,
  );
}

import { type CacheWatch, type CacheWatchOptions, createCacheWatch } from "@pgcachewatch/core";
import { MissingConnectionStringError } from "./errors.js";

const engines = new Map<string, CacheWatch>();

/**
 * The engine for a connection string, created and started on first use and shared by every client
 * extended with the same one. Reads bypass the cache until its listener is up (the engine's rule 2).
 */
export function sharedEngine(
  connectionString: string | undefined,
  options: Omit<CacheWatchOptions, "connectionString"> = {},
): CacheWatch {
  const url = connectionString ?? process.env.DATABASE_URL;
  if (!url) throw new MissingConnectionStringError();
  let watch = engines.get(url);
  if (!watch) {
    watch = createCacheWatch({ ...options, connectionString: url });
    engines.set(url, watch);
  }
  return watch;
}

/** Start an engine without making the caller wait: until it serves, reads go to the database. */
export function startInBackground(watch: CacheWatch): void {
  // start() is idempotent; a listener that cannot connect keeps retrying inside the engine.
  watch.start().catch(() => {});
}

import { Cache, type MutationOption } from "drizzle-orm/cache/core";

/**
 * The simplest cache Drizzle's built-in caching accepts: an in-process Map behind `$withCache()`,
 * dropped per table on writes made through Drizzle. It stands in for Drizzle's built-in cache in the
 * hit-cost comparison without a network hop (Drizzle ships an Upstash Redis one).
 */
export class DrizzleMemoryCache extends Cache {
  readonly #entries = new Map<string, { value: unknown; tables: string[] }>();
  hits = 0;

  override strategy(): "explicit" {
    return "explicit";
  }

  override async get(key: string): Promise<unknown[] | undefined> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.hits++;
    return entry.value as unknown[];
  }

  override async put(key: string, response: unknown, tables: string[]): Promise<void> {
    this.#entries.set(key, { value: response, tables });
  }

  override async onMutate(params: MutationOption): Promise<void> {
    const tables = new Set((Array.isArray(params.tables) ? params.tables : [params.tables]).map(String));
    for (const [key, entry] of this.#entries) {
      if (entry.tables.some((table) => tables.has(table))) this.#entries.delete(key);
    }
  }
}

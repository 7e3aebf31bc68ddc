import type pg from "pg";
import { sourceVariants } from "../sources.js";
import type { ScenarioContext } from "./context.js";
import { brokenReader, directReader, engineReader, type Reader, ttlReader } from "./key-readers.js";

/** One cache under test in the key mix. */
export interface MixVariant {
  name: string;
  /** Our NOTIFY triggers must be on fr_rows. */
  triggers: boolean;
  reader: (pool: pg.Pool) => Promise<Reader>;
}

export interface MixVariantChoice {
  /** Change sources that also get a table-level variant. */
  tableLevel: readonly ("notify" | "wal")[];
  ttls: readonly number[];
  /** Add the deliberately broken reader (checker proof, never in the default run). */
  broken: boolean;
}

/** Row-level (and table-level) engines per change source, TTL caches, no cache. */
export function mixVariants(context: ScenarioContext, keys: number, choice: MixVariantChoice): MixVariant[] {
  const variants: MixVariant[] = [];
  for (const source of sourceVariants(context.walAvailable)) {
    const options = () => source.options(context.url, ["fr_rows"]);
    // Row-level needs events that carry key values: the WAL source, and the NOTIFY triggers
    // installTriggers puts in place (one per operation, with the key values of each statement).
    variants.push({
      name: `pgcachewatch row-level (${source.name})`,
      triggers: source.needsTriggers,
      reader: (pool) => engineReader(pool, options(), "row", keys, source.recheckDelay),
    });
    if (choice.tableLevel.includes(source.name)) {
      variants.push({
        name: `pgcachewatch table-level (${source.name})`,
        triggers: source.needsTriggers,
        reader: (pool) => engineReader(pool, options(), "table", keys, source.recheckDelay),
      });
    }
    if (choice.broken && source.name === "notify") {
      variants.push({
        name: "BROKEN: row-level (notify), every tenth key never invalidated",
        triggers: true,
        reader: async (pool) =>
          brokenReader(await engineReader(pool, options(), "row", keys, source.recheckDelay)),
      });
    }
  }
  for (const ttl of choice.ttls) {
    variants.push({
      name: `lru-cache, ttl ${ttl} ms`,
      triggers: false,
      reader: async (pool) => ttlReader(pool, ttl),
    });
  }
  variants.push({ name: "no cache", triggers: false, reader: async (pool) => directReader(pool) });
  return variants;
}

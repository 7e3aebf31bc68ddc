import type { CacheWatchOptions } from "@pgcachewatch/core";
import { WalSource } from "@pgcachewatch/core/wal";

/** The WAL source's visibility recheck (rule 9): every change is reported again after this many ms. */
export const WAL_VISIBILITY_DELAY = 100;

/** The change sources a scenario compares: NOTIFY always, WAL when the server allows it. */
export interface SourceVariant {
  name: "notify" | "wal";
  label: string;
  /** Engine options for this source, watching `tables`. */
  options(url: string, tables: string[]): Pick<CacheWatchOptions, "connectionString" | "source">;
  /** Whether the source needs our triggers on the tables. */
  needsTriggers: boolean;
  /** The source reports each change a second time after this many ms (WAL visibility recheck). */
  recheckDelay: number | undefined;
}

export function sourceVariants(walAvailable: boolean): SourceVariant[] {
  const variants: SourceVariant[] = [
    {
      name: "notify",
      label: "NOTIFY (statement triggers)",
      needsTriggers: true,
      recheckDelay: undefined,
      options: (url) => ({ connectionString: url, source: "notify" }),
    },
  ];
  if (walAvailable) {
    variants.push({
      name: "wal",
      label: "WAL (logical replication)",
      needsTriggers: false,
      recheckDelay: WAL_VISIBILITY_DELAY,
      options: (url, tables) => ({
        connectionString: url,
        source: new WalSource({ connectionString: url, tables, visibilityDelay: WAL_VISIBILITY_DELAY }),
      }),
    });
  }
  return variants;
}

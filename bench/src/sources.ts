import type { CacheWatchOptions } from "@pgcachewatch/core";
import { WalSource } from "@pgcachewatch/core/wal";

/** The change sources a scenario compares: NOTIFY always, WAL when the server allows it. */
export interface SourceVariant {
  name: "notify" | "wal";
  label: string;
  /** Engine options for this source, watching `tables`. */
  options(url: string, tables: string[]): Pick<CacheWatchOptions, "connectionString" | "source">;
  /** Whether the source needs our triggers on the tables. */
  needsTriggers: boolean;
}

export function sourceVariants(walAvailable: boolean): SourceVariant[] {
  const variants: SourceVariant[] = [
    {
      name: "notify",
      label: "NOTIFY (statement triggers)",
      needsTriggers: true,
      options: (url) => ({ connectionString: url, source: "notify" }),
    },
  ];
  if (walAvailable) {
    variants.push({
      name: "wal",
      label: "WAL (logical replication)",
      needsTriggers: false,
      options: (url, tables) => ({
        connectionString: url,
        source: new WalSource({ connectionString: url, tables }),
      }),
    });
  }
  return variants;
}

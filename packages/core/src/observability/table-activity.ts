import type { InvalidateInfo, InvalidateReason } from "../engine/load-request.js";

/** Most tables counted by name; past that they are counted together under OTHER_TABLES. */
const MAX_TABLES = 1000;
export const OTHER_TABLES = "(other tables)";

export interface TableActivity {
  /** `schema.table`. */
  readonly table: string;
  /** Invalidations that named the table, by reason (a change event, a mutation, a manual call...). */
  readonly invalidations: Partial<Record<InvalidateReason, number>>;
  /** Entries those invalidations dropped (an entry that depends on two tables counts for both). */
  entriesDropped: number;
  /** Change events received for the table. */
  events: number;
}

/** Invalidations and change events per table, for the inspector's "invalidations per table" chart. */
export class TableActivityLog {
  readonly #tables = new Map<string, TableActivity>();
  /** Flushes of everything (listener lost or back, invalidateAll, stop): they name no table. */
  readonly flushes: Partial<Record<InvalidateReason, number>> = {};

  invalidated(info: InvalidateInfo): void {
    if (info.all) {
      this.flushes[info.reason] = (this.flushes[info.reason] ?? 0) + 1;
      return;
    }
    for (const table of info.tables) {
      const activity = this.#table(table);
      activity.invalidations[info.reason] = (activity.invalidations[info.reason] ?? 0) + 1;
      activity.entriesDropped += info.entries;
      if (info.reason === "change") activity.events++;
    }
  }

  /** Copies, most invalidated first. */
  list(): TableActivity[] {
    return [...this.#tables.values()]
      .map((a) => ({ ...a, invalidations: { ...a.invalidations } }))
      .sort((a, b) => total(b) - total(a));
  }

  #table(table: string): TableActivity {
    let activity = this.#tables.get(table);
    if (activity === undefined) {
      if (this.#tables.size >= MAX_TABLES) return this.#table(OTHER_TABLES);
      activity = { table, invalidations: {}, entriesDropped: 0, events: 0 };
      this.#tables.set(table, activity);
    }
    return activity;
  }
}

/** Invalidations of a table, every reason together. */
export function totalInvalidations(activity: TableActivity): number {
  return total(activity);
}

function total(activity: TableActivity): number {
  let sum = 0;
  for (const n of Object.values(activity.invalidations)) sum += n ?? 0;
  return sum;
}

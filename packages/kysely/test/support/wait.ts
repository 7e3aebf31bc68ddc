import type { CacheWatch } from "@pgcachewatch/core";
import { nextEvent } from "@pgcachewatch/testdb";

export { nextEvent } from "@pgcachewatch/testdb";

/** Resolve when an external change of `table` (`schema.table`) has invalidated the cache. */
export function changeOf(watch: CacheWatch, table: string): Promise<unknown> {
  return nextEvent(watch, "invalidate", (info) => info.reason === "change" && info.tables.includes(table));
}

/** Settle `promise` within `timeoutMs` or fail with `what` (a guard against hanging, not a timing assertion). */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

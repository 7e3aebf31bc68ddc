import type { CacheWatch, CacheWatchEvents } from "@pgcachewatch/core";

/** Resolve with the first event of `name` that satisfies `match`, or fail after `timeoutMs`. */
export function nextEvent<K extends keyof CacheWatchEvents>(
  watch: CacheWatch,
  name: K,
  match: (...args: CacheWatchEvents[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<CacheWatchEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      watch.off(name, listener as never);
      reject(new Error(`no '${String(name)}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: CacheWatchEvents[K]) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      watch.off(name, listener as never);
      resolve(args);
    };
    watch.on(name, listener as never);
  });
}

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

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

/** Poll `check` until it is true, or fail after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Settle `promise` within `timeoutMs` or report that it hung. */
export function within<T>(
  promise: Promise<T>,
  timeoutMs: number,
): Promise<{ status: "fulfilled"; value: T } | { status: "rejected"; reason: unknown } | { status: "hung" }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ status: "hung" }), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ status: "fulfilled", value });
      },
      (reason: unknown) => {
        clearTimeout(timer);
        resolve({ status: "rejected", reason });
      },
    );
  });
}

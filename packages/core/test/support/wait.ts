import type { CacheWatch, CacheWatchEvents } from "../../src/index.js";

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
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

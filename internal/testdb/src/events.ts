import type { EventEmitter } from "node:events";

type EventMap<T> = Record<keyof T, unknown[]>;

/** Resolve with the first `name` event that satisfies `match`, or fail after `timeoutMs` (a guard, not a timing assertion). */
export function nextEvent<T extends EventMap<T>, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  name: K,
  match: (...args: T[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T[K]> {
  const source = emitter as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.off(name, listener);
      reject(new Error(`no '${name}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: unknown[]) => {
      if (!match(...(args as T[K]))) return;
      clearTimeout(timer);
      source.off(name, listener);
      resolve(args as T[K]);
    };
    source.on(name, listener);
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

/** A promise with its resolve and reject, for holding a load open at a chosen point. */
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

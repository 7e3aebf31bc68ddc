import type { CacheWatch } from "../engine/cache-watch.js";
import type { TableInput } from "../events/table-name.js";
import type { Strategy } from "../strategies/strategy.js";
import { stableKey } from "./stable-key.js";

interface CommonOptions<A extends unknown[]> {
  /** Build the key from the arguments yourself (default: a stable serialisation of all arguments). */
  key?: (...args: A) => string;
  /** Expiry per entry in ms (default: the engine's ttl). */
  ttl?: number;
  /** A name that shows up in keys; helps when reading stats or logs. */
  name?: string;
}

/** Clear this function's entries when the strategy decides (the original's decorator). */
export interface CachedWithStrategy<A extends unknown[]> extends CommonOptions<A> {
  strategy: Strategy;
  watch?: never;
  tables?: never;
}

/** Clear entries whose tables changed (table-tag invalidation, as the ORM adapters do). */
export interface CachedWithTables<A extends unknown[]> extends CommonOptions<A> {
  watch: CacheWatch;
  tables: readonly TableInput[];
  strategy?: never;
}

export type CachedOptions<A extends unknown[]> = CachedWithStrategy<A> | CachedWithTables<A>;

export interface CachedFunction<A extends unknown[], R> {
  (...args: A): Promise<R>;
  /** Drop every entry of this function. */
  clear(): void;
  /** Stop the strategy's timers and subscriptions (entries stay until invalidated). */
  detach(): void;
}

let nextId = 0;

/**
 * Wrap an async function (a raw SQL query, a remote call) so that its results are cached per
 * argument list and cleared by a strategy or by changes to the tables it reads. All of the
 * engine's guarantees hold: single flight per key, the fill guard, isolation, errors not cached,
 * and no caching while the listener is down.
 */
export function cached<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  options: CachedOptions<A>,
): CachedFunction<A, R> {
  const id = `${options.name ?? (fn.name || "fn")}#${++nextId}`;
  const ownTag = `pgcachewatch:cached:${id}`;
  const watch = options.strategy ? options.strategy.listener : options.watch;
  const tables = options.strategy ? [] : options.tables;
  const keyOf = options.key ?? ((...args: A) => stableKey(args));
  const clear = () => {
    watch.invalidateTags(watch.tagsFor([], [ownTag]), "strategy");
  };
  const detach = options.strategy ? options.strategy.attach(clear) : () => {};
  // Built once, not per call: a hit allocates only its key, its request and its loader.
  const tags: readonly string[] = Object.freeze([ownTag]);
  const ttl = options.ttl;
  const wrapped = (...args: A): Promise<R> => {
    // An argument that cannot be keyed is the caller's error like any other: a rejection, never a synchronous throw.
    let key: string;
    try {
      key = `cached:${id}:${keyOf(...args)}`;
    } catch (error) {
      return Promise.reject(error);
    }
    return watch.load({ key, tables, tags, ttl }, () => fn(...args));
  };
  return Object.assign(wrapped, { clear, detach });
}

/**
 * The same as a method decorator (TypeScript 5 standard decorators). Each instance gets its own
 * cached function, so results of different instances never mix.
 */
export function cachedMethod<This extends object, A extends unknown[], R>(options: CachedOptions<A>) {
  return (
    method: (this: This, ...args: A) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>>,
  ) => {
    const perInstance = new WeakMap<This, CachedFunction<A, R>>();
    const name = options.name ?? String(context.name);
    return function (this: This, ...args: A): Promise<R> {
      let fn = perInstance.get(this);
      if (fn === undefined) {
        fn = cached((...a: A) => method.apply(this, a), { ...options, name } as CachedOptions<A>);
        perInstance.set(this, fn);
      }
      return fn(...args);
    };
  };
}

import { AsyncLocalStorage } from "node:async_hooks";
import type { DependencyCollector } from "./dependency-collector.js";

/**
 * The load a statement belongs to. A loader runs inside its flight's scope, so a statement an
 * adapter reports from anywhere below it (a driver, a pool, Prisma's query engine) is recorded
 * against that load. Entered only on a miss: a hit never touches it.
 */
export const loadScope = new AsyncLocalStorage<DependencyCollector>();

/**
 * Before Node 24 an enabled AsyncLocalStorage installs promise hooks: every promise created
 * anywhere in the process, a hit's included, then pays for carrying the context. The scope is
 * therefore disabled whenever no loader runs (it is enabled again by the next run). Node 24
 * carries contexts in frames instead, at no cost per promise, and its disable() would clear the
 * store of the current frame: there it stays enabled.
 */
const PROMISE_HOOKS = Number(process.versions.node.split(".")[0]) < 24;

/** Loaders running in the scope, across every engine of the process. */
let running = 0;

function loaderDone(): void {
  running--;
  if (running === 0 && PROMISE_HOOKS) loadScope.disable();
}

/** Run a loader in the scope of its load's collector; the scope is released once its promise settles. */
export function runInLoadScope<T>(collector: DependencyCollector, loader: () => Promise<T>): Promise<T> {
  running++;
  let result: Promise<T>;
  try {
    result = loadScope.run(collector, loader);
  } catch (error) {
    loaderDone();
    throw error;
  }
  return Promise.resolve(result).then(
    (value) => {
      loaderDone();
      return value;
    },
    (error: unknown) => {
      loaderDone();
      throw error;
    },
  );
}

import { AsyncLocalStorage } from "node:async_hooks";
import type { DependencyCollector } from "./dependency-collector.js";

/**
 * The load a statement belongs to. A loader runs inside its flight's scope, so a statement an
 * adapter reports from anywhere below it (a driver, a pool, Prisma's query engine) is recorded
 * against that load. Entered only on a miss: a hit never touches it.
 */
export const loadScope = new AsyncLocalStorage<DependencyCollector>();

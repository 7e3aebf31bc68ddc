import v8 from "node:v8";
import vm from "node:vm";

let gc: (() => void) | undefined;

/** Run a full garbage collection (turning on --expose-gc at run time if the process lacks it). */
export function collectGarbage(): void {
  if (gc === undefined) {
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as () => void;
  }
  gc();
  gc();
}

/** Heap in use after a full collection, in bytes. */
export function settledHeapBytes(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** Counts of the process's active handles and requests by type (Timeout, TCPSocketWrap, ...). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

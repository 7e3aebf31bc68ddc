export { type Fault, type FaultContext, type FaultOutcome, listenerPids, withAdmin } from "./faults/fault.js";
export { halfOpen } from "./faults/half-open.js";
export { hostileBurst } from "./faults/hostile-burst.js";
export { listenerKill } from "./faults/listener-kill.js";
export { serverRestart } from "./faults/server-restart.js";
export { CHAOS_SLOT, slotDrop } from "./faults/slot-drop.js";
export {
  type HostilePayload,
  hostilePayloads,
  MAX_PAYLOAD_BYTES,
  prototypePolluted,
} from "./hostile-payloads.js";
export { drizzleReadPaths } from "./read-paths/drizzle.js";
export { kyselyReadPaths } from "./read-paths/kysely.js";
export { coreReadPaths, type ReadPath } from "./readers.js";
export { activeResources, collectGarbage, settledHeapBytes } from "./resources.js";
export {
  type ChaosOptions,
  type ChaosSummary,
  DEFAULT_FAULTS,
  DEFAULT_WAL_FAULTS,
  runChaos,
} from "./run-chaos.js";
export {
  type CheckerReport,
  MARKER_SCHEMA,
  type RowVersion,
  StalenessChecker,
  type Violation,
} from "./staleness-checker.js";
export { chaosPassed, formatSummary } from "./summary.js";
export { createWorkloadSchema, DEFAULT_WORKLOAD_TABLE, type WorkloadTable } from "./workload-schema.js";

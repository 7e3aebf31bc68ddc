import type { HitCostVariant } from "./hit-cost.js";

/** What every scenario gets from the runner. */
export interface ScenarioContext {
  /** The benchmark's own database. */
  url: string;
  quick: boolean;
  /** Add the deliberately broken reader to the freshness mix (--prove-checker). */
  proveChecker: boolean;
  /** Cost of a pair of clock reads (ns), subtracted from per-call samples. */
  timerOverhead: number;
  /** The WAL change source is available (core exports it and wal_level=logical). */
  walAvailable: boolean;
  /** Hit-cost rows of the ORM adapters that are available. */
  adapterHitCosts(): Promise<HitCostVariant[]>;
  /** Progress lines (stderr), so a long run shows it is alive. */
  log(line: string): void;
}

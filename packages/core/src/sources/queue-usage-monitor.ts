import type { Logger } from "../logger.js";

/** How often a warning is repeated while the queue stays above the threshold. */
const REPEAT_WARNING_MS = 60_000;

/**
 * Watches `pg_notification_queue_usage()`, the fraction of the cluster-wide NOTIFY queue in use.
 * A listener anywhere in the cluster that stops reading pins the queue tail; when the queue is
 * full every notifying commit fails ("too many notifications in the NOTIFY queue"), in every
 * database. The heartbeat records it; past the threshold the logger warns (once a minute).
 */
export class QueueUsageMonitor {
  readonly #threshold: number;
  readonly #logger: Logger;
  #usage: number | undefined;
  #warnedAt = Number.NEGATIVE_INFINITY;
  #above = false;

  constructor(threshold: number, logger: Logger) {
    this.#threshold = threshold;
    this.#logger = logger;
  }

  get usage(): number | undefined {
    return this.#usage;
  }

  record(usage: number, now = Date.now()): void {
    if (!Number.isFinite(usage)) return;
    this.#usage = usage;
    if (usage >= this.#threshold) {
      if (!this.#above || now - this.#warnedAt >= REPEAT_WARNING_MS) {
        this.#warnedAt = now;
        this.#logger.warn(
          "pgcachewatch: the NOTIFY queue is filling up; once full, every commit that notifies fails cluster-wide. Look for a session that LISTENs and does not read (pg_stat_activity: idle in transaction, or a stuck client)",
          { queueUsage: usage, threshold: this.#threshold },
        );
      }
      this.#above = true;
    } else if (this.#above) {
      this.#above = false;
      this.#logger.info("pgcachewatch: NOTIFY queue usage back below the warning threshold", {
        queueUsage: usage,
      });
    }
  }
}

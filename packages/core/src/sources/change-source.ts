import type { ChangeEvent } from "../events/change-event.js";

/**
 * What the engine needs from a change source. A source owns its connection and reconnects by
 * itself, forever, until stop(). It reports each (re)established stream with onReady and each
 * loss with onLost; the engine serves from cache only between an onReady and the next onLost.
 */
export interface ChangeSource {
  /** Human-readable kind for logs and stats, e.g. "notify" or "wal". */
  readonly kind: string;
  /** Begin connecting; resolves once started (not necessarily ready). Must not reject for connection errors: report them through onLost/onError and keep retrying. */
  start(handlers: ChangeSourceHandlers): Promise<void>;
  /** Close the connection and clear every timer. Idempotent. */
  stop(): Promise<void>;
  /** Fraction of the cluster-wide NOTIFY queue in use (`pg_notification_queue_usage()`) as last read, for sources that know it. */
  readonly queueUsage?: number;
  /** Notifications dropped as forged (unsigned, wrongly signed, replayed), for sources that check signatures. Also counted as malformed. */
  readonly forgedEvents?: number;
}

export interface ChangeSourceHandlers {
  /** The source is listening/streaming: every commit from now on will be reported. Called again after each reconnect. */
  onReady(): void;
  /** The source lost its connection (or noticed it is dead). Changes may be missed until the next onReady. */
  onLost(error: Error): void;
  onChange(event: ChangeEvent): void;
  /** A message on the channel that is not a valid change event: counted and logged, never thrown. */
  onMalformed(detail: string, raw: string): void;
  /** A non-fatal problem worth surfacing (e.g. a failed reconnect attempt). */
  onError(error: Error): void;
}

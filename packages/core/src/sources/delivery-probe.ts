import { randomBytes } from "node:crypto";
import pg from "pg";
import { ListenerNeedsSessionError } from "../errors.js";
import type { Logger } from "../logger.js";

/** A channel only this listener connection listens on, so probes never reach other instances. */
export function probeChannelName(): string {
  return `pgcachewatch_probe_${randomBytes(8).toString("hex")}`;
}

export interface Echo {
  readonly id: string;
  /** Resolves when the notification came back (never rejects; cancel() leaves it pending). */
  readonly promise: Promise<void>;
  readonly arrived: boolean;
}

/**
 * Confirms that notifications reach the listener. A pooler in transaction mode (PgBouncer) runs
 * LISTEN on one server connection and then gives that connection to other clients: a notification
 * arriving while the listener is not attached is dropped ("got packet 'A' from server when not
 * linked"), while the listener's own statements still answer, even its own NOTIFY when they land
 * on the same server connection. Only a notification from another session, arriving while the
 * listener is idle, proves the session is kept: that is the check at every connect. The heartbeat
 * then sends one from the listener itself and checks the backend pid stays the LISTEN one.
 */
export class DeliveryProbe {
  readonly channel: string;
  readonly #pending = new Map<string, () => void>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(channel: string) {
    this.channel = channel;
  }

  /** A new probe id and the promise of its arrival. */
  expect(): Echo {
    const id = randomBytes(8).toString("hex");
    let arrived = false;
    const promise = new Promise<void>((resolve) => {
      this.#pending.set(id, () => {
        arrived = true;
        resolve();
      });
    });
    return {
      id,
      promise,
      get arrived() {
        return arrived;
      },
    };
  }

  /** A notification on the probe channel arrived. */
  received(payload: string): void {
    const resolve = this.#pending.get(payload);
    if (resolve === undefined) return;
    this.#pending.delete(payload);
    resolve();
  }

  /** Forget pending probes and their timers (connection closed). */
  cancel(): void {
    this.#pending.clear();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /**
   * Send a probe from a short-lived second connection with the listener's settings and wait up to
   * `timeoutMs` for the listener to receive it. If that connection cannot be opened (no free
   * connection slot, say), fall back to a probe sent by the listener itself, with a warning.
   */
  async confirmFromAnotherSession(
    config: pg.ClientConfig,
    listener: pg.Client,
    timeoutMs: number,
    logger: Logger,
  ): Promise<void> {
    const echo = this.expect();
    const sender = new pg.Client({ ...config, application_name: "pgcachewatch-probe", keepAlive: false });
    sender.on("error", () => {});
    let sentBy = "another session";
    try {
      await sender.connect();
      try {
        await sender.query("SELECT pg_catalog.pg_notify($1, $2)", [this.channel, echo.id]);
      } finally {
        await sender.end().catch(() => {});
      }
    } catch (error) {
      logger.warn(
        "pgcachewatch could not open a second connection to confirm delivery; probing from the listener itself",
        {
          error: error instanceof Error ? error.message : String(error),
        },
      );
      sentBy = "the listener itself";
      await listener.query("SELECT pg_catalog.pg_notify($1, $2)", [this.channel, echo.id]);
    }
    const wait = Math.max(timeoutMs, 1000);
    const arrived = await this.#within(echo.promise, wait);
    if (!arrived) {
      this.#pending.delete(echo.id);
      throw new ListenerNeedsSessionError(
        `a notification sent from ${sentBy} did not reach the listener within ${wait} ms`,
      );
    }
  }

  #within(promise: Promise<void>, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve(false);
      }, ms);
      this.#timers.add(timer);
      void promise.then(() => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve(true);
      });
    });
  }
}

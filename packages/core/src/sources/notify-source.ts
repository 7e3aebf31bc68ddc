import { randomBytes } from "node:crypto";
import pg from "pg";
import { clientConfigFor, redactSecrets } from "../connection-string.js";
import { EventSecretMismatchError, ListenerNeedsSessionError } from "../errors.js";
import { parseNotifyPayload } from "../events/notify-payload.js";
import { ReplayWindow, signProbe, verifyEnvelope } from "../events/signed-payload.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { toChannel } from "../triggers/channel.js";
import { PROBE_SIGNATURE_FUNCTION } from "../triggers/definitions.js";
import type { ChangeSource, ChangeSourceHandlers } from "./change-source.js";
import { DeliveryProbe, probeChannelName } from "./delivery-probe.js";
import { QueueUsageMonitor } from "./queue-usage-monitor.js";
import { quoteIdentifier } from "./quote-identifier.js";

export interface NotifySourceOptions {
  /**
   * Connection for the dedicated listener: a postgres:// URL or libpq key=value text. Must reach
   * PostgreSQL directly or through a session-mode pooler: behind PgBouncer in transaction mode
   * notifications are dropped, which the delivery probe detects (ListenerNeedsSessionError).
   */
  connectionString?: string;
  channel: string;
  /**
   * Every `heartbeatInterval` ms the listener sends itself a notification that must come back
   * within the same period (and reads the NOTIFY queue usage), or the connection is declared dead.
   */
  heartbeatInterval?: number;
  reconnectDelay?: { initial?: number; max?: number };
  /**
   * The install's event secret (`pgcachewatch secret`): notifications without a valid signature
   * are dropped and counted (`forgedEvents`). Without it every well-formed payload is accepted.
   */
  eventSecret?: string;
  /** Warn through the logger when `pg_notification_queue_usage()` reaches this fraction. Default 0.5. */
  queueUsageWarning?: number;
  logger?: Logger;
}

/**
 * LISTEN on a dedicated `pg.Client` (never a pooled connection: a pool would hand the LISTEN to a
 * connection it may close or share). Reconnects forever with exponential backoff and jitter; a
 * heartbeat plus TCP keepalive notices dead and half-open sockets within a few seconds. Delivery
 * is confirmed end to end: at each connect a notification sent from another session must arrive,
 * and each heartbeat is a notification the listener sends itself on its own backend.
 */
export class NotifySource implements ChangeSource {
  readonly kind = "notify";
  readonly #connectionString: string | undefined;
  readonly #channel: string;
  readonly #heartbeatInterval: number;
  readonly #initialDelay: number;
  readonly #maxDelay: number;
  readonly #logger: Logger;
  readonly #secret: string | undefined;
  readonly #replays = new ReplayWindow();
  readonly #queue: QueueUsageMonitor;
  #clientConfig: pg.ClientConfig | undefined;
  #handlers: ChangeSourceHandlers | undefined;
  #client: pg.Client | undefined;
  #backendPid: number | undefined;
  #probe: DeliveryProbe | undefined;
  #stopped = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #ready = false;
  #forged = 0;

  constructor(options: NotifySourceOptions) {
    toChannel(options.channel);
    this.#connectionString = options.connectionString;
    this.#channel = options.channel;
    this.#heartbeatInterval = options.heartbeatInterval ?? 5000;
    this.#logger = options.logger ?? silentLogger;
    this.#initialDelay = options.reconnectDelay?.initial ?? 100;
    this.#maxDelay = options.reconnectDelay?.max ?? 10_000;
    this.#secret = options.eventSecret === "" ? undefined : options.eventSecret;
    this.#queue = new QueueUsageMonitor(options.queueUsageWarning ?? 0.5, this.#logger);
  }

  /** Backend pid of the current listener connection (for diagnostics and fault tests). */
  get backendPid(): number | undefined {
    return this.#client === undefined ? undefined : this.#backendPid;
  }

  /** `pg_notification_queue_usage()` as of the last heartbeat (0..1), undefined before the first. */
  get queueUsage(): number | undefined {
    return this.#queue.usage;
  }

  /** Notifications dropped because they were unsigned, wrongly signed or replayed (with `eventSecret` only). */
  get forgedEvents(): number {
    return this.#forged;
  }

  /**
   * Resolves once the first connection attempt has ended: ready, or failed for a reason that may
   * pass (retried in the background). Rejects for what retrying cannot fix: a malformed connection
   * string (InvalidConnectionStringError) or a connection that cannot keep a session
   * (ListenerNeedsSessionError).
   */
  async start(handlers: ChangeSourceHandlers): Promise<void> {
    if (this.#handlers) return;
    this.#clientConfig = clientConfigFor(this.#connectionString, {
      application_name: "pgcachewatch-listener",
      keepAlive: true,
      keepAliveInitialDelayMillis: 1000,
      connectionTimeoutMillis: Math.max(this.#heartbeatInterval, 1000),
    });
    this.#handlers = handlers;
    this.#stopped = false;
    const fatal = await this.#connect();
    if (fatal) {
      await this.stop();
      throw fatal;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeatTimer);
    this.#reconnectTimer = undefined;
    this.#heartbeatTimer = undefined;
    this.#probe?.cancel();
    this.#probe = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#ready = false;
    if (client) await closeClient(client);
    this.#handlers = undefined;
  }

  /** One connection attempt. Returns the error when it is one retrying cannot fix (first attempt only). */
  async #connect(): Promise<Error | undefined> {
    if (this.#stopped || !this.#handlers || !this.#clientConfig) return undefined;
    const first = this.#attempt === 0 && !this.#ready;
    let client: pg.Client;
    try {
      client = new pg.Client(this.#clientConfig);
    } catch (error) {
      // pg parses the settings in the constructor; what passed our checks should not fail here.
      return this.#scrub(asError(error));
    }
    this.#client = client;
    let lost = false;
    const onLost = (error: Error) => {
      if (lost || this.#client !== client) return;
      lost = true;
      this.#handleLost(client, this.#scrub(error));
    };
    const probe = new DeliveryProbe(probeChannelName());
    this.#probe = probe;
    client.on("error", onLost);
    client.on("end", () => onLost(new Error("listener connection closed")));
    client.on("notification", (message) => {
      if (this.#client !== client) return;
      if (message.channel === probe.channel) probe.received(message.payload ?? "");
      else if (message.channel === this.#channel) this.#deliver(message.payload ?? "");
    });
    try {
      await client.connect();
      await client.query(
        `LISTEN ${quoteIdentifier(this.#channel)}; LISTEN ${quoteIdentifier(probe.channel)}`,
      );
      const { rows } = await client.query<{ pid: number }>("SELECT pg_catalog.pg_backend_pid() AS pid");
      this.#backendPid = readPid(rows);
      await probe.confirmFromAnotherSession(
        this.#clientConfig,
        client,
        this.#heartbeatInterval,
        this.#logger,
      );
      if (this.#secret !== undefined) await checkSecret(client, this.#secret, randomBytes(8).toString("hex"));
    } catch (error) {
      const failure = this.#scrub(asError(error));
      const fatal =
        failure instanceof ListenerNeedsSessionError || failure instanceof EventSecretMismatchError;
      if (first && fatal && !lost) {
        this.#client = undefined;
        await closeClient(client);
        return failure;
      }
      onLost(failure);
      return undefined;
    }
    if (this.#stopped || this.#client !== client || lost) return undefined;
    this.#attempt = 0;
    this.#ready = true;
    this.#startHeartbeat(client, probe, onLost);
    this.#logger.info("pgcachewatch listener ready", { channel: this.#channel });
    this.#handlers?.onReady();
    return undefined;
  }

  #deliver(raw: string): void {
    let payload = raw;
    if (this.#secret !== undefined) {
      const verdict = verifyEnvelope(this.#secret, raw);
      if (!verdict.ok) {
        this.#forged++;
        this.#handlers?.onMalformed(`forged notification dropped: ${verdict.detail}`, raw);
        return;
      }
      if (!this.#replays.firstSight(verdict.id)) {
        this.#forged++;
        this.#handlers?.onMalformed("forged notification dropped: a replayed signed notification", raw);
        return;
      }
      payload = verdict.payload;
    }
    const parsed = parseNotifyPayload(payload);
    if (parsed.ok) this.#handlers?.onChange(parsed.event);
    else this.#handlers?.onMalformed(parsed.detail, raw);
  }

  /**
   * Each beat: the listener notifies itself on its probe channel and reads the queue usage, in one
   * statement. The notification must come back and the backend must be the one that ran LISTEN.
   */
  #startHeartbeat(client: pg.Client, probe: DeliveryProbe, onLost: (error: Error) => void): void {
    const interval = this.#heartbeatInterval;
    let inFlight = false;
    this.#heartbeatTimer = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      let answered = false;
      const echo = probe.expect();
      const finish = () => {
        inFlight = false;
        clearTimeout(timeout);
      };
      const timeout = setTimeout(() => {
        // A stalled event loop fires this timer before reading the reply already in the socket:
        // let pending I/O be read (one poll phase, twice for a reply split across reads) first.
        afterPendingIo(() => {
          if (answered && echo.arrived) return;
          onLost(
            answered
              ? new ListenerNeedsSessionError(
                  `the listener's own notification did not come back within ${interval} ms`,
                )
              : new Error(`listener heartbeat got no answer within ${interval} ms`),
          );
        });
      }, interval);
      client
        .query<{ usage: number; pid: number; signature?: string | null }>(
          this.#secret === undefined ? HEARTBEAT_SQL : HEARTBEAT_WITH_SIGNATURE_SQL,
          [probe.channel, echo.id],
        )
        .then(
          ({ rows }) => {
            answered = true;
            const secret = this.#secret;
            if (secret !== undefined && rows[0]?.signature !== signProbe(secret, echo.id)) {
              finish();
              onLost(new EventSecretMismatchError("the install's triggers now sign with another secret"));
              return;
            }
            const pid = readPid(rows);
            if (pid !== this.#backendPid) {
              finish();
              onLost(
                new ListenerNeedsSessionError(
                  `the listener's statements ran on backend ${pid}, not on backend ${this.#backendPid} that runs LISTEN`,
                ),
              );
              return;
            }
            this.#queue.record(Number(rows[0]?.usage ?? 0));
            return echo.promise.then(finish);
          },
          (error: unknown) => {
            finish();
            onLost(asError(error));
          },
        );
    }, interval);
    this.#heartbeatTimer.unref();
  }

  #handleLost(client: pg.Client, error: Error): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#client = undefined;
    this.#probe?.cancel();
    this.#probe = undefined;
    void closeClient(client);
    if (this.#stopped) return;
    const wasReady = this.#ready;
    this.#ready = false;
    if (wasReady) {
      this.#logger.warn("pgcachewatch listener lost", { error: error.message });
      this.#handlers?.onLost(error);
    } else {
      this.#handlers?.onError(error);
    }
    const base = Math.min(this.#maxDelay, this.#initialDelay * 2 ** this.#attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay);
  }

  /** Errors leave this source without the connection string's password, whatever wrote them. */
  #scrub(error: Error): Error {
    const connectionString = this.#connectionString;
    if (connectionString === undefined) return error;
    const message = redactSecrets(error.message, connectionString);
    if (message !== error.message) {
      error.message = message;
      if (error.stack) error.stack = redactSecrets(error.stack, connectionString);
    }
    return error;
  }
}

const HEARTBEAT_SQL =
  "SELECT pg_catalog.pg_notify($1, $2), pg_catalog.pg_notification_queue_usage()::float8 AS usage, pg_catalog.pg_backend_pid() AS pid";
const HEARTBEAT_WITH_SIGNATURE_SQL = `${HEARTBEAT_SQL}, ${PROBE_SIGNATURE_FUNCTION.replace("(text)", "")}($2) AS signature`;

/** The install signs a probe id the way this secret does, or the listener must not serve. */
async function checkSecret(client: pg.Client, secret: string, id: string): Promise<void> {
  let signature: string | null | undefined;
  try {
    const { rows } = await client.query<{ signature: string | null }>(
      `SELECT ${PROBE_SIGNATURE_FUNCTION.replace("(text)", "")}($1) AS signature`,
      [id],
    );
    signature = rows[0]?.signature;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "42883" || code === "3F000" || code === "42501") {
      throw new EventSecretMismatchError(
        "the installed triggers do not sign notifications (revision 2 or later is needed, with USAGE on schema pgcachewatch)",
        { cause: error },
      );
    }
    throw error;
  }
  if (signature === null || signature === undefined) {
    throw new EventSecretMismatchError("the install has no event secret");
  }
  if (signature !== signProbe(secret, id)) {
    throw new EventSecretMismatchError("eventSecret is not the secret the installed triggers sign with");
  }
}

function readPid(rows: readonly { pid: number }[]): number | undefined {
  const pid = rows.at(-1)?.pid;
  return pid === undefined ? undefined : Number(pid);
}

/** Run `then` after the event loop has been through its poll phase twice (reading sockets that are ready). */
function afterPendingIo(then: () => void): void {
  setImmediate(() => setImmediate(then));
}

/** End a client; if the socket is half-open and end() would wait forever, destroy it. */
export async function closeClient(client: pg.Client): Promise<void> {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        stream?.destroy();
        resolve();
      }, 1000);
    }),
  ]);
  clearTimeout(timer);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

import pg from "pg";
import { parseNotifyPayload } from "../events/notify-payload.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { toChannel } from "../triggers/channel.js";
import type { ChangeSource, ChangeSourceHandlers } from "./change-source.js";
import { quoteIdentifier } from "./quote-identifier.js";

export interface NotifySourceOptions {
  /** Connection for the dedicated listener. Must reach PostgreSQL directly or through a session-mode pooler: PgBouncer in transaction mode cannot LISTEN. */
  connectionString?: string;
  channel: string;
  /** Every `heartbeatInterval` ms a `SELECT 1` must answer within the same period, or the connection is declared dead. */
  heartbeatInterval?: number;
  reconnectDelay?: { initial?: number; max?: number };
  logger?: Logger;
}

/**
 * LISTEN on a dedicated `pg.Client` (never a pooled connection: a pool would hand the LISTEN to a
 * connection it may close or share). Reconnects forever with exponential backoff and jitter; a
 * heartbeat plus TCP keepalive notices dead and half-open sockets within a few seconds.
 */
export class NotifySource implements ChangeSource {
  readonly kind = "notify";
  readonly #options: Required<Omit<NotifySourceOptions, "connectionString" | "reconnectDelay">> & {
    connectionString: string | undefined;
    initialDelay: number;
    maxDelay: number;
  };
  #handlers: ChangeSourceHandlers | undefined;
  #client: pg.Client | undefined;
  #stopped = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #ready = false;

  constructor(options: NotifySourceOptions) {
    toChannel(options.channel);
    this.#options = {
      connectionString: options.connectionString,
      channel: options.channel,
      heartbeatInterval: options.heartbeatInterval ?? 5000,
      logger: options.logger ?? silentLogger,
      initialDelay: options.reconnectDelay?.initial ?? 100,
      maxDelay: options.reconnectDelay?.max ?? 10_000,
    };
  }

  /** Backend pid of the current listener connection (for diagnostics and fault tests). */
  get backendPid(): number | undefined {
    return (this.#client as unknown as { processID?: number } | undefined)?.processID ?? undefined;
  }

  async start(handlers: ChangeSourceHandlers): Promise<void> {
    if (this.#handlers) return;
    this.#handlers = handlers;
    this.#stopped = false;
    void this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeatTimer);
    this.#reconnectTimer = undefined;
    this.#heartbeatTimer = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#ready = false;
    if (client) await closeClient(client);
    this.#handlers = undefined;
  }

  async #connect(): Promise<void> {
    if (this.#stopped || !this.#handlers) return;
    const { connectionString, channel, heartbeatInterval } = this.#options;
    const client = new pg.Client({
      ...(connectionString === undefined ? {} : { connectionString }),
      application_name: "pgcachewatch-listener",
      keepAlive: true,
      keepAliveInitialDelayMillis: 1000,
      connectionTimeoutMillis: Math.max(heartbeatInterval, 1000),
    });
    this.#client = client;
    let lost = false;
    const onLost = (error: Error) => {
      if (lost || this.#client !== client) return;
      lost = true;
      this.#handleLost(client, error);
    };
    client.on("error", onLost);
    client.on("end", () => onLost(new Error("listener connection closed")));
    client.on("notification", (message) => {
      if (this.#client !== client || message.channel !== channel) return;
      this.#deliver(message.payload ?? "");
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      onLost(asError(error));
      return;
    }
    if (this.#stopped || this.#client !== client || lost) return;
    this.#attempt = 0;
    this.#ready = true;
    this.#startHeartbeat(client, onLost);
    this.#options.logger.info("pgcachewatch listener ready", { channel });
    this.#handlers?.onReady();
  }

  #deliver(payload: string): void {
    const parsed = parseNotifyPayload(payload);
    if (parsed.ok) this.#handlers?.onChange(parsed.event);
    else this.#handlers?.onMalformed(parsed.detail, payload);
  }

  #startHeartbeat(client: pg.Client, onLost: (error: Error) => void): void {
    const { heartbeatInterval } = this.#options;
    let inFlight = false;
    this.#heartbeatTimer = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      const timeout = setTimeout(
        () => onLost(new Error(`listener heartbeat got no answer within ${heartbeatInterval} ms`)),
        heartbeatInterval,
      );
      client.query("SELECT 1").then(
        () => {
          inFlight = false;
          clearTimeout(timeout);
        },
        (error: unknown) => {
          clearTimeout(timeout);
          onLost(asError(error));
        },
      );
    }, heartbeatInterval);
    this.#heartbeatTimer.unref();
  }

  #handleLost(client: pg.Client, error: Error): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#client = undefined;
    void closeClient(client);
    if (this.#stopped) return;
    const wasReady = this.#ready;
    this.#ready = false;
    if (wasReady) {
      this.#options.logger.warn("pgcachewatch listener lost", { error: error.message });
      this.#handlers?.onLost(error);
    } else {
      this.#handlers?.onError(error);
    }
    const { initialDelay, maxDelay } = this.#options;
    const base = Math.min(maxDelay, initialDelay * 2 ** this.#attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay);
  }
}

/** End a client; if the socket is half-open and end() would wait forever, destroy it. */
async function closeClient(client: pg.Client): Promise<void> {
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

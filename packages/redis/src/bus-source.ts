import { randomUUID } from "node:crypto";
import type { ChangeEvent, ChangeSource, ChangeSourceHandlers, Logger } from "@pgcachewatch/core";
import { silentLogger } from "@pgcachewatch/core";
import { Redis, type RedisOptions } from "ioredis";
import type { BusMessage } from "./bus-message.js";
import { BusRelay } from "./bus-relay.js";
import { ValueCodec } from "./codec.js";
import { BusLostError } from "./errors.js";

export interface BusSourceOptions {
  /** A connection URL, or a client to copy the settings of (the bus opens connections of its own). */
  redis: string | Redis;
  /** The real change source the elected relay runs (a NotifySource, a WAL source). Called once per term. */
  relaySource: () => ChangeSource;
  /** Prefix of the bus's keys and channel. Default "{pgcw}:". */
  prefix?: string;
  /** Heartbeat period of the relay through the bus, in ms. Default 500. */
  heartbeatInterval?: number;
  /** A bus silent this long (ms) is lost. Default 4 x heartbeatInterval. */
  silenceTimeout?: number;
  /** Relay lock lifetime in ms; a dead relay is replaced within about this. Default 3000. */
  lockTtl?: number;
  /** Whether this instance may become the relay. Default true. */
  canRelay?: boolean;
  logger?: Logger;
}

/**
 * `source: "bus"`: change events from Redis pub/sub, published by one elected relay that runs
 * the real source for the fleet (one LISTEN connection, one replication slot). Every message
 * carries the relay's term and a sequence number; a gap, a silent bus, a new relay or a relay
 * whose own source is down are reported as a lost source (the engine flushes and bypasses), and
 * a heartbeat of a healthy relay after that as ready again.
 */
export class BusSource implements ChangeSource {
  readonly kind = "bus";
  readonly instanceId = randomUUID();
  readonly #options: BusSourceOptions;
  readonly #codec = new ValueCodec();
  readonly #logger: Logger;
  readonly #channel: string;
  readonly #heartbeatInterval: number;
  readonly #silenceTimeout: number;
  #subscriber: Redis | undefined;
  #relay: BusRelay | undefined;
  #handlers: ChangeSourceHandlers | undefined;
  #term = -1;
  #seq = 0;
  #ready = false;
  #lastMessageAt = 0;
  #watchdog: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Messages received, gaps and silences seen (for tests and stats). */
  readonly counts = { messages: 0, gaps: 0, silences: 0, relayChanges: 0 };

  constructor(options: BusSourceOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#channel = `${options.prefix ?? "{pgcw}:"}bus`;
    this.#heartbeatInterval = options.heartbeatInterval ?? 500;
    this.#silenceTimeout = options.silenceTimeout ?? 4 * this.#heartbeatInterval;
  }

  /** True while this instance is the elected relay. */
  get isRelay(): boolean {
    return this.#relay?.isLeader ?? false;
  }

  async start(handlers: ChangeSourceHandlers): Promise<void> {
    this.#handlers = handlers;
    const own: RedisOptions = {
      connectionName: "pgcachewatch-bus",
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    };
    const redis = this.#options.redis;
    const subscriber = typeof redis === "string" ? new Redis(redis, own) : redis.duplicate(own);
    this.#subscriber = subscriber;
    subscriber.on("error", (error: Error) => handlers.onError(error));
    subscriber.on("close", () => this.#lose("the bus connection closed"));
    subscriber.on("messageBuffer", (_channel: Buffer, message: Buffer) => this.#receive(message));
    subscriber.subscribe(this.#channel).catch((error: unknown) => handlers.onError(error as Error));
    this.#lastMessageAt = Date.now();
    this.#watchdog = setInterval(
      () => {
        if (this.#ready && Date.now() - this.#lastMessageAt > this.#silenceTimeout) {
          this.counts.silences++;
          this.#lose("the bus was silent (no relay heartbeat)");
        }
      },
      Math.max(20, Math.floor(this.#heartbeatInterval / 2)),
    );
    this.#watchdog.unref();
    if (this.#options.canRelay ?? true) {
      this.#relay = new BusRelay({
        redis,
        prefix: this.#options.prefix ?? "{pgcw}:",
        channel: this.#channel,
        relaySource: this.#options.relaySource,
        heartbeatInterval: this.#heartbeatInterval,
        lockTtl: this.#options.lockTtl ?? 3000,
        codec: this.#codec,
        logger: this.#logger,
        onError: (error) => handlers.onError(error),
        instanceId: this.instanceId,
      });
      this.#relay.start();
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#watchdog);
    await this.#relay?.stop();
    const subscriber = this.#subscriber;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  #receive(bytes: Buffer): void {
    if (this.#stopped) return;
    let message: BusMessage;
    try {
      message = this.#codec.decode(bytes) as BusMessage;
    } catch (error) {
      this.#handlers?.onMalformed((error as Error).message, bytes.toString("utf8", 0, 200));
      return;
    }
    this.counts.messages++;
    this.#lastMessageAt = Date.now();
    // An event of any relay, current or not, still happened: applying it is harmless.
    if (message.k === "e") this.#deliver(message.e);
    // Any other term is another relay: terms are not only increasing (a restarted Redis counts
    // from 1 again), and a relay that has not yet noticed it lost the lock may still publish.
    // Following whichever spoke last is safe: every switch is a loss (flush and bypass).
    if (message.t !== this.#term) {
      if (this.#term !== -1) this.counts.relayChanges++;
      this.#lose("a new relay took over");
      this.#term = message.t;
      this.#seq = message.s;
      return;
    }
    if (message.s !== this.#seq + 1) {
      this.counts.gaps++;
      this.#lose(`the bus skipped messages ${this.#seq + 1}..${message.s - 1}`);
      this.#seq = message.s;
      return;
    }
    this.#seq = message.s;
    if (message.k === "l" || (message.k === "h" && !message.r))
      this.#lose("the relay's change source is down");
    else if ((message.k === "h" && message.r) || message.k === "r") this.#becomeReady();
  }

  #deliver(event: Omit<ChangeEvent, "receivedAt">): void {
    this.#handlers?.onChange({ ...event, receivedAt: Date.now() });
  }

  #becomeReady(): void {
    if (this.#ready) return;
    this.#ready = true;
    this.#handlers?.onReady();
  }

  #lose(why: string): void {
    if (!this.#ready || this.#stopped) return;
    this.#ready = false;
    this.#logger.warn("pgcachewatch bus lost", { why });
    this.#handlers?.onLost(new BusLostError(why));
  }
}

/** Create the bus source; pass it as `source` to createCacheWatch. */
export function createBusSource(options: BusSourceOptions): BusSource {
  return new BusSource(options);
}

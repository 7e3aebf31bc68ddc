import type { ChangeEvent, ChangeSource, Logger } from "@pgcachewatch/core";
import { Redis, type RedisOptions } from "ioredis";
import type { BusMessageBody } from "./bus-message.js";
import type { ValueCodec } from "./codec.js";
import { LuaScript } from "./lua-script.js";

export interface BusRelayOptions {
  redis: string | Redis;
  prefix: string;
  channel: string;
  relaySource: () => ChangeSource;
  heartbeatInterval: number;
  lockTtl: number;
  codec: ValueCodec;
  logger: Logger;
  onError: (error: Error) => void;
  instanceId: string;
}

/** Extend the lock only if this instance still holds it. ARGV: prefix, id, ttl. */
const RENEW = new LuaScript(`
if redis.call('GET', ARGV[1] .. 'relay') == ARGV[2] then
  redis.call('PEXPIRE', ARGV[1] .. 'relay', ARGV[3])
  return 1
end
return 0
`);

/** Release the lock only if this instance holds it. ARGV: prefix, id. */
const RELEASE = new LuaScript(`
if redis.call('GET', ARGV[1] .. 'relay') == ARGV[2] then
  redis.call('DEL', ARGV[1] .. 'relay')
  return 1
end
return 0
`);

/**
 * The election and the relay itself: every candidate tries to take a Redis lock (SET NX PX); the
 * holder renews it, runs the real change source and publishes what it reports, with its term and
 * a sequence number, plus heartbeats. A holder that cannot renew in time steps down before the
 * lock expires, so two relays do not overlap; a dead one is replaced once its lock expires.
 */
export class BusRelay {
  readonly #options: BusRelayOptions;
  readonly #redis: Redis;
  #leader = false;
  #term = 0;
  #seq = 0;
  #source: ChangeSource | undefined;
  #sourceReady = false;
  #lastRenew = 0;
  #electionTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Terms this instance held (for tests). */
  terms = 0;

  constructor(options: BusRelayOptions) {
    this.#options = options;
    const own: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: Math.max(200, Math.floor(options.lockTtl / 3)),
      connectionName: "pgcachewatch-relay",
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    };
    this.#redis =
      typeof options.redis === "string" ? new Redis(options.redis, own) : options.redis.duplicate(own);
    this.#redis.on("error", (error: Error) =>
      options.logger.debug("pgcachewatch bus relay", { error: error.message }),
    );
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      const step = this.#leader ? this.#renew() : this.#tryAcquire();
      step.finally(() => {
        if (this.#stopped) return;
        this.#electionTimer = setTimeout(tick, Math.max(50, Math.floor(this.#options.lockTtl / 4)));
        this.#electionTimer.unref();
      });
    };
    this.#redis.once("ready", tick);
    this.#heartbeatTimer = setInterval(() => {
      if (this.#leader) this.#publish({ k: "h", r: this.#sourceReady });
    }, this.#options.heartbeatInterval);
    this.#heartbeatTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#electionTimer);
    clearInterval(this.#heartbeatTimer);
    if (this.#leader) {
      this.#publish({ k: "l" });
      await this.#stepDown("stopped");
      // Let the next candidate take over at once rather than after the lock expires.
      await RELEASE.run(this.#redis, [this.#options.prefix, this.#options.instanceId]).catch(() => {});
    }
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  async #tryAcquire(): Promise<void> {
    const { prefix, instanceId, lockTtl } = this.#options;
    try {
      const taken = await this.#redis.set(`${prefix}relay`, instanceId, "PX", lockTtl, "NX");
      if (taken !== "OK" || this.#stopped) return;
      this.#lastRenew = Date.now();
      this.#term = await this.#redis.incr(`${prefix}term`);
      this.#seq = 0;
      this.#leader = true;
      this.terms++;
      this.#options.logger.info("pgcachewatch bus: this instance is the relay", { term: this.#term });
      this.#publish({ k: "h", r: false });
      this.#startSource();
    } catch (error) {
      this.#options.logger.debug("pgcachewatch bus election failed", { error: (error as Error).message });
    }
  }

  async #renew(): Promise<void> {
    const { prefix, instanceId, lockTtl } = this.#options;
    try {
      const held = await RENEW.run(this.#redis, [prefix, instanceId, lockTtl]);
      if (held === 1) {
        this.#lastRenew = Date.now();
        return;
      }
      await this.#stepDown("another instance holds the relay lock");
    } catch {
      // Step down well before the lock can expire: two relays never publish at once.
      if (Date.now() - this.#lastRenew > (lockTtl * 2) / 3)
        await this.#stepDown("the relay lock could not be renewed");
    }
  }

  #startSource(): void {
    const source = this.#options.relaySource();
    this.#source = source;
    const current = () => this.#source === source && this.#leader;
    source
      .start({
        onReady: () => {
          if (!current()) return;
          this.#sourceReady = true;
          this.#publish({ k: "r" });
        },
        onLost: (error) => {
          if (!current()) return;
          this.#sourceReady = false;
          this.#publish({ k: "l" });
          this.#options.onError(error);
        },
        onChange: (event) => {
          if (current()) this.#publish({ k: "e", e: withoutReceivedAt(event) });
        },
        onMalformed: (detail) =>
          this.#options.logger.warn("pgcachewatch relay skipped a malformed event", { detail }),
        onError: (error) => this.#options.onError(error),
      })
      .catch((error: unknown) => this.#options.onError(error as Error));
  }

  async #stepDown(why: string): Promise<void> {
    if (!this.#leader) return;
    this.#leader = false;
    this.#sourceReady = false;
    this.#options.logger.warn("pgcachewatch bus: this instance is no longer the relay", { why });
    const source = this.#source;
    this.#source = undefined;
    await source?.stop().catch(() => {});
  }

  #publish(body: BusMessageBody): void {
    // The number is taken even when the publish fails: subscribers then see the gap.
    const message = { t: this.#term, s: ++this.#seq, ...body };
    let bytes: Buffer;
    try {
      bytes = this.#options.codec.encode(message);
    } catch {
      // Key values the codec cannot carry: the event goes table-wide, which is always safe.
      const event = (body as { e: Omit<ChangeEvent, "receivedAt"> }).e;
      const { keys: _keys, ...tableWide } = event;
      bytes = this.#options.codec.encode({ ...message, e: tableWide });
    }
    this.#redis.publish(this.#options.channel, bytes).catch(() => {});
  }
}

function withoutReceivedAt(event: ChangeEvent): Omit<ChangeEvent, "receivedAt"> {
  const { receivedAt: _receivedAt, ...rest } = event;
  return rest;
}

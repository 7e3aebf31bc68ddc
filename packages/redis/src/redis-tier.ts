import { createHash, randomUUID } from "node:crypto";
import type { Logger, SecondTier, SecondTierEntry, SecondTierToken } from "@pgcachewatch/core";
import { silentLogger } from "@pgcachewatch/core";
import { Redis, type RedisOptions } from "ioredis";
import { ValueCodec } from "./codec.js";
import { TierUnavailableError } from "./errors.js";
import { ALL_SCRIPTS, BEGIN_LOAD, COVER, FILL, FLUSH, GET, INVALIDATE, RECOVER, UNCOVER } from "./scripts.js";

export interface RedisTierOptions {
  /** A connection URL, or a client to copy the settings of (the tier opens a connection of its own). */
  redis: string | Redis;
  /** Prefix of every key. Default "{pgcw}:" (one hash slot). Instances sharing a cache share a prefix. */
  prefix?: string;
  /** How values travel; register Decimal-like classes on it. */
  codec?: ValueCodec;
  /** Longest an entry lives in Redis, in ms, whatever the engine's ttl. Default 5 minutes. */
  maxTtl?: number;
  /** A load that ran longer than this (ms) does not fill Redis. Default 60 000. */
  maxLoadTime?: number;
  /** How long one heartbeat of this instance's change source covers the tier, in ms. Default 3000. */
  coverage?: number;
  /** Most entries a tag set indexes; past it the oldest entries go. Default 10 000. */
  maxTagMembers?: number;
  /** Larger encoded values are not stored in Redis. Default 1 MiB. */
  maxValueBytes?: number;
  /** A command that takes longer is a miss (and a failed invalidation a flush). Default 1000 ms. */
  commandTimeout?: number;
  logger?: Logger;
}

export interface RedisTierStats {
  hits: number;
  misses: number;
  /** Lookups answered "miss" without asking Redis: not connected, or recovering. */
  skipped: number;
  errors: number;
  fills: number;
  fillsRefused: number;
  fillsUnencodable: number;
  invalidations: number;
  /** Flushes applied: manual, after a failed invalidation, a restart, or a coverage gap. */
  flushes: number;
  /** New coverage epochs this instance began (nobody covered before its heartbeat). */
  epochs: number;
  /** Times the tier (re)connected and checked Redis's run id before serving. */
  recoveries: number;
  available: boolean;
}

interface RedisToken extends SecondTierToken {
  readonly run: string;
  readonly time: number;
}

const DEFAULTS = {
  prefix: "{pgcw}:",
  maxTtl: 5 * 60_000,
  maxLoadTime: 60_000,
  coverage: 3000,
  maxTagMembers: 10_000,
  maxValueBytes: 1024 * 1024,
  commandTimeout: 1000,
};

/**
 * The shared second tier. It never makes a read fail or wait: while it is not connected, or is
 * recovering, it answers "miss" and refuses fills. Every invalidation it could not apply, and every
 * restart of Redis, becomes a flush before it serves again.
 */
export class RedisTier implements SecondTier {
  readonly codec: ValueCodec;
  readonly instanceId = randomUUID();
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #maxTtl: number;
  readonly #maxLoadTime: number;
  readonly #markTtl: number;
  readonly #coverage: number;
  readonly #maxTagMembers: number;
  readonly #maxValueBytes: number;
  readonly #logger: Logger;
  readonly #stats: Omit<RedisTierStats, "available"> = {
    hits: 0,
    misses: 0,
    skipped: 0,
    errors: 0,
    fills: 0,
    fillsRefused: 0,
    fillsUnencodable: 0,
    invalidations: 0,
    flushes: 0,
    epochs: 0,
    recoveries: 0,
  };
  /** The run id of the Redis server this tier recovered against; undefined until then. */
  #run: string | undefined;
  #available = false;
  /** An invalidation may not have been applied: flush before serving again. */
  #mustFlush = false;
  #recovering: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #sourceReady = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  #uncovered: Promise<unknown> = Promise.resolve();
  /** The token the last lookup took, for a beginLoad in the same tick (see get). */
  #pairedToken: Promise<RedisToken | undefined> | undefined;

  constructor(options: RedisTierOptions) {
    this.codec = options.codec ?? new ValueCodec();
    this.#prefix = options.prefix ?? DEFAULTS.prefix;
    this.#maxTtl = options.maxTtl ?? DEFAULTS.maxTtl;
    this.#maxLoadTime = options.maxLoadTime ?? DEFAULTS.maxLoadTime;
    this.#markTtl = this.#maxTtl + this.#maxLoadTime + 60_000;
    this.#coverage = options.coverage ?? DEFAULTS.coverage;
    this.#maxTagMembers = options.maxTagMembers ?? DEFAULTS.maxTagMembers;
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULTS.maxValueBytes;
    this.#logger = options.logger ?? silentLogger;
    const own: RedisOptions = {
      // A command while disconnected fails at once: the tier steps aside instead of queueing.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeout ?? DEFAULTS.commandTimeout,
      connectionName: `pgcachewatch-tier-${this.instanceId.slice(0, 8)}`,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
      lazyConnect: false,
    };
    this.#redis =
      typeof options.redis === "string" ? new Redis(options.redis, own) : options.redis.duplicate(own);
    this.#redis.on("error", (error: Error) =>
      this.#logger.debug("pgcachewatch redis tier", { error: error.message }),
    );
    this.#redis.on("ready", () => this.#recover());
    this.#redis.on("close", () => {
      this.#available = false;
    });
  }

  /** Resolves once the tier serves (connected and recovered), or rejects after `timeoutMs`. */
  async whenAvailable(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#available) {
      if (Date.now() > deadline)
        throw new TierUnavailableError(`not connected and recovered within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  stats(): RedisTierStats {
    return { ...this.#stats, available: this.#available };
  }

  get(key: string): Promise<SecondTierEntry | undefined> {
    if (!this.#available || this.#run === undefined) {
      this.#stats.skipped++;
      return Promise.resolve(undefined);
    }
    const reply = (
      GET.run(this.#redis, [this.#prefix, hashKey(key), this.#run]) as Promise<(number | Buffer)[]>
    ).then(
      (r) => r,
      (error: unknown) => {
        this.#stats.errors++;
        this.#logger.debug("pgcachewatch redis tier get failed", { error: (error as Error).message });
        return undefined;
      },
    );
    // The engine asks beginLoad right after get, in the same tick: it takes the token this
    // lookup's script took (one round trip for both). Any later beginLoad asks Redis itself.
    const token = reply.then((r) => tokenOf(r));
    this.#pairedToken = token;
    queueMicrotask(() => {
      if (this.#pairedToken === token) this.#pairedToken = undefined;
    });
    return reply.then((r) => {
      if (r === undefined) return undefined;
      if (r[0] !== 1) {
        this.#stats.misses++;
        return undefined;
      }
      try {
        const entry = {
          value: this.codec.decode(r[4] as Buffer),
          tags: JSON.parse((r[5] as Buffer).toString()) as string[],
        };
        this.#stats.hits++;
        return entry;
      } catch (error) {
        this.#stats.errors++;
        this.#logger.debug("pgcachewatch redis tier get failed", { error: (error as Error).message });
        return undefined;
      }
    });
  }

  async beginLoad(): Promise<SecondTierToken | undefined> {
    const paired = this.#pairedToken;
    this.#pairedToken = undefined;
    if (paired !== undefined) return paired;
    if (!this.#available) return undefined;
    try {
      const reply = (await BEGIN_LOAD.run(this.#redis, [this.#prefix])) as [number, Buffer, number] | null;
      if (reply === null) return undefined;
      const token: RedisToken = { clock: reply[0], run: reply[1].toString(), time: reply[2] };
      return token;
    } catch {
      this.#stats.errors++;
      return undefined;
    }
  }

  fill(key: string, entry: SecondTierEntry, ttl: number, token: SecondTierToken): void {
    const { run, time, clock } = token as RedisToken;
    if (!this.#available || run !== this.#run) return;
    let bytes: Buffer;
    try {
      bytes = this.codec.encode(entry.value);
    } catch {
      this.#stats.fillsUnencodable++;
      return;
    }
    if (bytes.length > this.#maxValueBytes) {
      this.#stats.fillsRefused++;
      return;
    }
    const life = ttl > 0 ? Math.min(ttl, this.#maxTtl) : this.#maxTtl;
    FILL.run(this.#redis, [
      this.#prefix,
      hashKey(key),
      run,
      clock,
      time,
      this.#maxLoadTime,
      life,
      bytes,
      JSON.stringify(entry.tags),
      this.#maxTagMembers,
      ...entry.tags,
    ]).then(
      (stored) => {
        if (stored === 1) this.#stats.fills++;
        else this.#stats.fillsRefused++;
      },
      () => {
        this.#stats.errors++;
      },
    );
  }

  invalidate(tags: readonly string[]): void {
    if (tags.length === 0) return;
    this.#stats.invalidations++;
    this.#apply(() => INVALIDATE.run(this.#redis, [this.#prefix, this.#markTtl, ...tags]));
  }

  invalidateAll(): void {
    this.#stats.flushes++;
    this.#apply(() => FLUSH.run(this.#redis, [this.#prefix]));
  }

  sourceState(state: "ready" | "lost" | "stopped"): void {
    this.#uncovered = this.#setSourceState(state);
  }

  #setSourceState(state: "ready" | "lost" | "stopped"): Promise<unknown> {
    this.#sourceReady = state === "ready";
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    // Events this source missed before it noticed the loss may have been missed by every
    // instance (one relay for all, one server for all): what Redis holds is no longer vouched for.
    if (state === "lost") this.invalidateAll();
    if (this.#sourceReady) {
      this.#heartbeat = setInterval(() => this.#cover(), Math.max(50, Math.floor(this.#coverage / 3)));
      this.#heartbeat.unref();
      this.#cover();
    } else if (this.#redis.status === "ready") {
      return UNCOVER.run(this.#redis, [this.#prefix, this.instanceId]).catch(() => {});
    }
    return Promise.resolve();
  }

  /** Stop heartbeats, leave the coverage, close the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#uncovered;
    await this.#setSourceState("stopped");
    clearTimeout(this.#retryTimer);
    this.#available = false;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /**
   * Apply an invalidation now; when it cannot be (not connected) or may not have been (an error,
   * a timeout), the tier steps aside until a flush went through.
   */
  #apply(send: () => Promise<unknown>): void {
    if (this.#redis.status !== "ready") {
      this.#mustRecover();
      return;
    }
    send().catch((error: unknown) => {
      this.#stats.errors++;
      this.#logger.warn(
        "pgcachewatch redis tier could not apply an invalidation: it flushes before serving again",
        {
          error: (error as Error).message,
        },
      );
      this.#mustRecover();
    });
  }

  #mustRecover(): void {
    this.#mustFlush = true;
    this.#available = false;
    this.#recover();
  }

  #recover(): void {
    if (this.#closed || this.#recovering) return;
    if (this.#redis.status !== "ready") return; // the "ready" event starts it again
    this.#available = false;
    let succeeded = false;
    this.#recovering = this.#recoverOnce()
      .then(
        () => {
          succeeded = true;
          this.#stats.recoveries++;
          // An invalidation failed while recovering: once more before serving.
          if (this.#mustFlush) return;
          this.#available = true;
          if (this.#sourceReady) this.#cover();
        },
        (error: unknown) => {
          this.#stats.errors++;
          this.#logger.debug("pgcachewatch redis tier recovery failed", { error: (error as Error).message });
          clearTimeout(this.#retryTimer);
          this.#retryTimer = setTimeout(() => this.#recover(), 200);
          this.#retryTimer.unref();
        },
      )
      .finally(() => {
        this.#recovering = undefined;
        // After a failure the retry timer (or the next "ready") runs it again: never a tight loop.
        if (succeeded && this.#mustFlush && !this.#closed) this.#recover();
      });
  }

  async #recoverOnce(): Promise<void> {
    const info = String(await this.#redis.info("server"));
    const run = /run_id:([0-9a-f]+)/.exec(info)?.[1];
    // Without a run id a restart could not be told from a reconnect: never serve then.
    if (run === undefined) throw new TierUnavailableError("INFO server has no run_id");
    // Every script known to the server: a fallback EVAL after a NOSCRIPT would come too late before QUIT.
    for (const script of ALL_SCRIPTS) await script.load(this.#redis);
    const flush = this.#mustFlush;
    this.#mustFlush = false;
    try {
      const flushed = await RECOVER.run(this.#redis, [this.#prefix, run, flush ? "1" : "0"]);
      if (flushed === 1) this.#stats.flushes++;
    } catch (error) {
      if (flush) this.#mustFlush = true;
      throw error;
    }
    this.#run = run;
  }

  #cover(): void {
    if (!this.#available || !this.#sourceReady) return;
    COVER.run(this.#redis, [this.#prefix, this.instanceId, this.#coverage]).then(
      (bumped) => {
        if (bumped === 1) this.#stats.epochs++;
      },
      () => {
        this.#stats.errors++;
      },
    );
  }
}

/** The token part of a lookup's reply: {hit, clock, run, now, ...}; none when Redis had no state. */
function tokenOf(reply: (number | Buffer)[] | undefined): RedisToken | undefined {
  if (reply === undefined || reply.length < 4) return undefined;
  return { clock: reply[1] as number, run: (reply[2] as Buffer).toString(), time: reply[3] as number };
}

/** Entry keys are SQL text and parameters: a fixed-size hash keeps Redis keys small. */
function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("base64url");
}

/** Create the shared tier; pass it as `secondTier` to createCacheWatch. */
export function createRedisTier(options: RedisTierOptions): RedisTier {
  return new RedisTier(options);
}

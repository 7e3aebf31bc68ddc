import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A Lua script run by its SHA (EVALSHA), loaded with EVAL the first time a server does not know it. */
export class LuaScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
  }

  /** Make the server know the script (after a connect: a restarted server knows none). */
  async load(redis: Redis): Promise<void> {
    await redis.script("LOAD", this.#source);
  }

  /** Run with no declared keys (every key is derived from the prefix in ARGV[1]); replies as Buffers. */
  async run(redis: Redis, args: readonly (string | Buffer | number)[]): Promise<unknown> {
    try {
      return await redis.callBuffer("EVALSHA", this.#sha, 0, ...args);
    } catch (error) {
      if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return redis.callBuffer("EVAL", this.#source, 0, ...args);
    }
  }
}

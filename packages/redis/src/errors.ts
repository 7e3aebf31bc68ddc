import { PgCacheWatchError } from "@pgcachewatch/core";

/** A value the codec cannot carry intact (a function, a symbol, a class without a registered codec, a cycle). It is not stored in Redis. */
export class UnencodableValueError extends PgCacheWatchError {
  constructor(path: string, why: string) {
    super("UNENCODABLE_VALUE", `cannot store in Redis: value at ${path} is ${why}`);
  }
}

/** Bytes in Redis that this version of the codec cannot read (another version, or corrupt). Read as a miss. */
export class UndecodableValueError extends PgCacheWatchError {
  constructor(why: string) {
    super("UNDECODABLE_VALUE", `cannot read a value from Redis: ${why}`);
  }
}

/** The bus stopped delivering for sure (a gap, silence, a relay change, the connection): a lost source. */
export class BusLostError extends PgCacheWatchError {
  constructor(why: string) {
    super("BUS_LOST", `invalidation bus lost: ${why}`);
  }
}

/** The Redis tier cannot serve: not connected and recovered in time, or the server did not say its run id. */
export class TierUnavailableError extends PgCacheWatchError {
  constructor(why: string) {
    super("TIER_UNAVAILABLE", `the Redis tier is not available: ${why}`);
  }
}

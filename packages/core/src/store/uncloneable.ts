import { PgCacheWatchError } from "../errors.js";

/**
 * Deeper than this the copiers stop (their recursion would approach the stack's limit): the value
 * is returned to its caller but not cached. Cycles are not a reason any more; they are reproduced.
 */
export const MAX_DEPTH = 1000;

export class UncloneableValueError extends PgCacheWatchError {
  constructor() {
    super("UNCLONEABLE_VALUE", `value is nested deeper than ${MAX_DEPTH} levels, too deep to cache`);
  }
}

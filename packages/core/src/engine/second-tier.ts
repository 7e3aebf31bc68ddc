/**
 * A cache shared by many engines (another process, another machine), asked after the in-process
 * store misses and before PostgreSQL. The engine keeps every guarantee of the single-process
 * mode: the tier is only a faster way to get a value that a load could have produced.
 *
 * The contract, which an implementation must keep because the engine relies on it:
 * - No method rejects or throws. A tier that cannot answer (down, slow, confused) answers "miss",
 *   refuses the fill and steps aside; it never makes a read fail or wait for long.
 * - `get` serves only an entry that no invalidation since its fill could have touched, and only
 *   while some instance's change source covered the whole time since its fill.
 * - `fill` is atomic with the check of its tags' marks: an entry whose load started (`beginLoad`)
 *   before an invalidation of one of its tags, applied by any instance, is refused.
 * - `invalidate` and `invalidateAll` are idempotent: every instance applies every event it sees.
 */
export interface SecondTier {
  /** The entry under `key`, or undefined (a miss, or the tier cannot answer). */
  get(key: string): Promise<SecondTierEntry | undefined>;
  /**
   * The tier's logical clock now, for a load about to run; undefined when the tier cannot give
   * one (then the load does not fill the tier).
   */
  beginLoad(): Promise<SecondTierToken | undefined>;
  /** Store `value` under `key` and its tags unless one of them was invalidated after `token`. */
  fill(key: string, entry: SecondTierEntry, ttl: number, token: SecondTierToken): void;
  /** Drop every entry carrying one of `tags`, and refuse fills of loads that began before now. */
  invalidate(tags: readonly string[]): void;
  /** Drop everything (a manual flush of the whole cache). */
  invalidateAll(): void;
  /**
   * This instance's change source is delivering ("ready"), lost, or stopped for good. The tier
   * uses it to know whether the fleet's sources cover the time since an entry's fill.
   */
  sourceState(state: "ready" | "lost" | "stopped"): void;
}

export interface SecondTierEntry {
  readonly value: unknown;
  /** The engine's tags the value depends on (table, row and user tags). */
  readonly tags: readonly string[];
}

/** What `beginLoad` returns and `fill` takes back; opaque to the engine. */
export interface SecondTierToken {
  readonly clock: number;
}

/** One cached value and what it depends on. */
export interface StoreEntry {
  readonly value: unknown;
  /** Approximate heap bytes of the value, key and tags (see cloneAndMeasure); the store adds its index. */
  readonly bytes: number;
  /** Table tags and user tags; invalidating any of them drops the entry. */
  readonly tags: readonly string[];
  /** ms since epoch; Infinity for no expiry. */
  readonly expiresAt: number;
  /** The value is deep-frozen and handed to every caller as it is (isolation "freeze"). */
  readonly shared?: boolean;
  /**
   * For a shared value: the value as one settled promise, returned to every hit as it is (a
   * settled promise cannot be changed, and each caller's `then` makes its own chain).
   */
  readonly settled?: Promise<unknown> | undefined;
}

export type RemovalReason = "evicted" | "expired" | "invalidated";

/**
 * The boundary between the engine and where values live. Synchronous today (an in-memory LRU: a
 * hit costs no promise and no I/O); a shared store would implement the same operations.
 */
export interface CacheStore {
  get(key: string, now: number): StoreEntry | undefined;
  set(key: string, entry: StoreEntry): void;
  delete(key: string): boolean;
  /** Drop every entry carrying `tag`; returns how many. */
  deleteTag(tag: string): number;
  /** Drop everything; returns how many. */
  clear(): number;
  readonly size: number;
  /** Approximate heap bytes held: the entries' bytes and the store's own structures. */
  readonly bytes: number;
  /** Number of tags currently indexed (shrinks with the entries: rule 8). */
  readonly tagCount: number;
  /**
   * Entries and bytes per group of tags: `groupOf` names a tag's group (a table) or skips it
   * (undefined); an entry counts once in each of its groups. For the inspector: a walk of every
   * entry, never on the hit path. Optional: a store that cannot walk its entries leaves it out.
   */
  usageBy?(groupOf: (tag: string) => string | undefined): Map<string, TagUsage>;
}

/** What one group of tags holds: the entries under it and their bytes. */
export interface TagUsage {
  entries: number;
  bytes: number;
}

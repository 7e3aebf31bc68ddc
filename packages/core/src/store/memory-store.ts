import type { CacheStore, RemovalReason, StoreEntry, TagUsage } from "./cache-store.js";
import {
  CONS_STRING_BYTES,
  MAP_SLOT_BYTES,
  SET_SLOT_BYTES,
  SMALLEST_SET_BYTES,
  stringBytes,
} from "./heap-size.js";

export interface MemoryStoreOptions {
  maxEntries: number;
  maxBytes: number;
  onRemove?: (key: string, reason: RemovalReason) => void;
}

// What the store's own structures cost, on top of the entries' bytes. A Map or Set leaves a removed
// key's slot in place until its table is rebuilt, and grows instead of rebuilding while fewer than
// half the slots are removed; it shrinks once under a quarter is in use. With keys coming and going
// (evictions, and every hit moves its key to the end) a table holds up to 4 slots per live key.

/** An entry's share of the LRU Map. */
const ENTRY_INDEX_BYTES = 4 * MAP_SLOT_BYTES;
/** An entry's share of the Set of one of its tags. */
const TAG_MEMBER_BYTES = 4 * SET_SLOT_BYTES;
/** An indexed tag, besides its characters: its Set, its share of the tag index Map, a cons string. */
const TAG_INDEX_BYTES = SMALLEST_SET_BYTES + ENTRY_INDEX_BYTES + CONS_STRING_BYTES;

/** An entry with its share of the LRU Map and of its tags' Sets. */
function storedBytes(entry: StoreEntry): number {
  return entry.bytes + ENTRY_INDEX_BYTES + TAG_MEMBER_BYTES * entry.tags.length;
}

/** A tag in the index: its Set, its slot, its characters. */
function indexedTagBytes(tag: string): number {
  return TAG_INDEX_BYTES + stringBytes(tag);
}

/**
 * An LRU bounded by entry count and by approximate bytes, with per-entry expiry and an index from
 * tag to keys that shrinks with the entries. A Map's insertion order is the recency order. `bytes`
 * is the entries' own bytes plus what indexing them costs.
 */
export class MemoryStore implements CacheStore {
  readonly #entries = new Map<string, StoreEntry>();
  readonly #tagIndex = new Map<string, Set<string>>();
  readonly #options: MemoryStoreOptions;
  #bytes = 0;

  constructor(options: MemoryStoreOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get tagCount(): number {
    return this.#tagIndex.size;
  }

  get(key: string, now: number): StoreEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#remove(key, entry, "expired");
      return undefined;
    }
    // Most recently used goes last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: StoreEntry): void {
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#remove(key, previous, "invalidated");
    this.#entries.set(key, entry);
    this.#bytes += storedBytes(entry);
    for (const tag of entry.tags) {
      let keys = this.#tagIndex.get(tag);
      if (keys === undefined) {
        keys = new Set();
        this.#tagIndex.set(tag, keys);
        this.#bytes += indexedTagBytes(tag);
      }
      keys.add(key);
    }
    this.#evict();
  }

  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#remove(key, entry, "invalidated");
    return true;
  }

  deleteTag(tag: string): number {
    const keys = this.#tagIndex.get(tag);
    if (keys === undefined) return 0;
    let removed = 0;
    for (const key of [...keys]) {
      const entry = this.#entries.get(key);
      if (entry !== undefined) {
        this.#remove(key, entry, "invalidated");
        removed++;
      }
    }
    // Normally gone with its last entry.
    if (this.#tagIndex.delete(tag)) this.#bytes -= indexedTagBytes(tag);
    return removed;
  }

  clear(): number {
    const removed = this.#entries.size;
    if (this.#options.onRemove) {
      for (const key of this.#entries.keys()) this.#options.onRemove(key, "invalidated");
    }
    this.#entries.clear();
    this.#tagIndex.clear();
    this.#bytes = 0;
    return removed;
  }

  usageBy(groupOf: (tag: string) => string | undefined): Map<string, TagUsage> {
    const usage = new Map<string, TagUsage>();
    const groups = new Set<string>();
    for (const entry of this.#entries.values()) {
      groups.clear();
      for (const tag of entry.tags) {
        const group = groupOf(tag);
        if (group !== undefined) groups.add(group);
      }
      const bytes = storedBytes(entry);
      for (const group of groups) {
        const sum = usage.get(group);
        if (sum === undefined) usage.set(group, { entries: 1, bytes });
        else {
          sum.entries++;
          sum.bytes += bytes;
        }
      }
    }
    return usage;
  }

  #evict(): void {
    const { maxEntries, maxBytes } = this.#options;
    while (this.#entries.size > maxEntries || this.#bytes > maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) return;
      const entry = this.#entries.get(oldest.value);
      if (entry === undefined) return;
      this.#remove(oldest.value, entry, "evicted");
    }
  }

  #remove(key: string, entry: StoreEntry, reason: RemovalReason): void {
    this.#entries.delete(key);
    this.#bytes -= storedBytes(entry);
    for (const tag of entry.tags) {
      const keys = this.#tagIndex.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) {
        this.#tagIndex.delete(tag);
        this.#bytes -= indexedTagBytes(tag);
      }
    }
    this.#options.onRemove?.(key, reason);
  }
}

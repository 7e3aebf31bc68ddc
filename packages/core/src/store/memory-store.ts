import type { CacheStore, RemovalReason, StoreEntry, TagUsage } from "./cache-store.js";
import {
  CONS_STRING_BYTES,
  MAP_SLOT_BYTES,
  plainObjectBytes,
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
// (evictions, invalidations) a table holds up to 4 slots per live key.

/** An entry's share of the key Map, and its node in the recency list. */
const ENTRY_INDEX_BYTES = 4 * MAP_SLOT_BYTES + plainObjectBytes(4);
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

/** An entry in the recency list: least recently used at the head, most recently used at the tail. */
class Node {
  prev: Node | undefined = undefined;
  next: Node | undefined = undefined;
  constructor(
    readonly key: string,
    readonly entry: StoreEntry,
  ) {}
}

/**
 * An LRU bounded by entry count and by approximate bytes, with per-entry expiry and an index from
 * tag to keys that shrinks with the entries. Recency is a doubly linked list through the entries'
 * nodes: a hit relinks one node (a few pointer writes), where moving a key to the end of a Map
 * costs a delete and an insert with their hashing. `bytes` is the entries' own bytes plus what
 * indexing them costs.
 */
export class MemoryStore implements CacheStore {
  readonly #entries = new Map<string, Node>();
  #head: Node | undefined = undefined;
  #tail: Node | undefined = undefined;
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
    const node = this.#entries.get(key);
    if (node === undefined) return undefined;
    if (node.entry.expiresAt <= now) {
      this.#remove(node, "expired");
      return undefined;
    }
    // Most recently used goes last.
    if (node !== this.#tail) {
      this.#unlink(node);
      this.#append(node);
    }
    return node.entry;
  }

  set(key: string, entry: StoreEntry): void {
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#remove(previous, "invalidated");
    const node = new Node(key, entry);
    this.#entries.set(key, node);
    this.#append(node);
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
    const node = this.#entries.get(key);
    if (node === undefined) return false;
    this.#remove(node, "invalidated");
    return true;
  }

  deleteTag(tag: string): number {
    const keys = this.#tagIndex.get(tag);
    if (keys === undefined) return 0;
    let removed = 0;
    for (const key of [...keys]) {
      const node = this.#entries.get(key);
      if (node !== undefined) {
        this.#remove(node, "invalidated");
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
    this.#head = undefined;
    this.#tail = undefined;
    this.#tagIndex.clear();
    this.#bytes = 0;
    return removed;
  }

  usageBy(groupOf: (tag: string) => string | undefined): Map<string, TagUsage> {
    const usage = new Map<string, TagUsage>();
    const groups = new Set<string>();
    for (const { entry } of this.#entries.values()) {
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
      const oldest = this.#head;
      if (oldest === undefined) return;
      this.#remove(oldest, "evicted");
    }
  }

  #append(node: Node): void {
    const tail = this.#tail;
    node.prev = tail;
    node.next = undefined;
    if (tail === undefined) this.#head = node;
    else tail.next = node;
    this.#tail = node;
  }

  #unlink(node: Node): void {
    const { prev, next } = node;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    node.prev = undefined;
    node.next = undefined;
  }

  #remove(node: Node, reason: RemovalReason): void {
    const { key, entry } = node;
    this.#entries.delete(key);
    this.#unlink(node);
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

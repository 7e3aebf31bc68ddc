interface Slot<V> {
  readonly value: V;
  /** Read since it was last passed over by eviction (a second chance, as in the CLOCK algorithm). */
  used: boolean;
}

/**
 * A Map bounded to `capacity` entries that evicts entries not read recently first (CLOCK, an
 * approximation of least-recently-used). A hit only sets a flag: moving the key to the end of the
 * Map on every hit (delete + set) costs tens of microseconds in V8 once the Map is large.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, Slot<V>>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, used: false });
    // Oldest first: an entry read since its last pass goes to the back once, the first unread one is evicted.
    while (this.map.size > this.capacity) {
      const oldest = this.map.entries().next();
      if (oldest.done) return;
      const [oldestKey, slot] = oldest.value;
      this.map.delete(oldestKey);
      if (slot.used && oldestKey !== key) {
        slot.used = false;
        this.map.set(oldestKey, slot);
      }
    }
  }

  clear(): void {
    this.map.clear();
  }
}

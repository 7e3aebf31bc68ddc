/**
 * The fill guard (rule 1). A logical clock ticks on every invalidation; each tag remembers the tick
 * it was last invalidated at, and a global mark covers "everything" (listener loss, invalidateAll).
 * A load remembers the tick it started at and may store its result only if neither its tags nor the
 * global mark moved past it. This is the generation-counter-per-table plus epoch of the design,
 * folded into one number so that a snapshot is a single integer.
 */
/** Most per-tag marks kept while loads are in flight. */
const MAX_TRACKED_TAGS = 10_000;

export class InvalidationClock {
  #now = 0;
  #globalMark = 0;
  readonly #marks = new Map<string, number>();
  /** Start ticks of loads in flight, to know which marks may still matter. */
  readonly #openSnapshots = new Map<number, number>();

  /** The current tick; a load calls this before it runs its query. */
  snapshot(): number {
    const tick = this.#now;
    this.#openSnapshots.set(tick, (this.#openSnapshots.get(tick) ?? 0) + 1);
    return tick;
  }

  /** The load that took `tick` is finished (stored or not). */
  release(tick: number): void {
    const open = this.#openSnapshots.get(tick);
    if (open === undefined) return;
    if (open <= 1) this.#openSnapshots.delete(tick);
    else this.#openSnapshots.set(tick, open - 1);
    if (this.#openSnapshots.size === 0) this.#marks.clear();
  }

  mark(tags: Iterable<string>): void {
    const tick = ++this.#now;
    // Marks only matter to loads in flight; with none open there is nothing to remember.
    if (this.#openSnapshots.size === 0) return;
    for (const tag of tags) this.#marks.set(tag, tick);
    // While some load stays in flight (a steady stream of loads, or one that hangs) marks are never
    // cleared; distinct tags (per-entity user tags, foreign table names) would grow without bound.
    // Past the cap, fold them into the global mark: every load in flight is refused its fill, which
    // is always safe, and memory stays bounded.
    if (this.#marks.size > MAX_TRACKED_TAGS) {
      this.#globalMark = tick;
      this.#marks.clear();
    }
  }

  markAll(): void {
    this.#globalMark = ++this.#now;
  }

  /** True if nothing the load depends on was invalidated since `tick`. */
  unchangedSince(tick: number, tags: readonly string[]): boolean {
    if (this.#globalMark > tick) return false;
    for (const tag of tags) {
      const mark = this.#marks.get(tag);
      if (mark !== undefined && mark > tick) return false;
    }
    return true;
  }

  /** Marks currently remembered (bounded by the tags touched while loads were in flight). */
  get trackedTags(): number {
    return this.#marks.size;
  }
}

import type { Flight } from "./flight.js";

/**
 * Loads in flight: by key (a new caller joins), by tag (an invalidation detaches what read the
 * tag, in one lookup per tag instead of a scan of every load), and every one still running
 * (stop() waits for them).
 *
 * A flight is indexed under the tags it is known to depend on so far: the tables it declared
 * and those of each statement it has sent. A statement not yet sent will read after the change,
 * so it cannot make a joined caller see stale rows. A joinable flight with no known tag yet may
 * have read anything: every invalidation detaches it.
 */
export class FlightRegistry {
  readonly #byKey = new Map<string, Flight>();
  readonly #byTag = new Map<string, Set<Flight>>();
  readonly #untagged = new Set<Flight>();
  readonly running = new Set<Flight>();

  joinable(key: string): Flight | undefined {
    return this.#byKey.get(key);
  }

  add(flight: Flight, tags: readonly string[]): void {
    if (flight.key !== undefined) this.#byKey.set(flight.key, flight);
    this.running.add(flight);
    if (tags.length === 0) this.#untagged.add(flight);
    else this.addTags(flight, tags);
  }

  /** The flight turned out to read `tags` too. */
  addTags(flight: Flight, tags: Iterable<string>): void {
    if (flight.settled || flight.key === undefined || this.#byKey.get(flight.key) !== flight) return;
    this.#untagged.delete(flight);
    flight.indexedTags ??= [];
    for (const tag of tags) {
      let flights = this.#byTag.get(tag);
      if (flights === undefined) {
        flights = new Set();
        this.#byTag.set(tag, flights);
      }
      if (!flights.has(flight)) {
        flights.add(flight);
        flight.indexedTags.push(tag);
      }
    }
  }

  /** New callers of the flight's key start a new load; callers it has keep waiting for it. */
  detach(flight: Flight): void {
    if (flight.key !== undefined && this.#byKey.get(flight.key) === flight) this.#byKey.delete(flight.key);
    this.#untagged.delete(flight);
    const tags = flight.indexedTags;
    if (tags === undefined) return;
    flight.indexedTags = undefined;
    for (const tag of tags) {
      const flights = this.#byTag.get(tag);
      if (flights === undefined) continue;
      flights.delete(flight);
      if (flights.size === 0) this.#byTag.delete(tag);
    }
  }

  /** Settled or abandoned: no longer joinable, no longer waited for by stop(). */
  remove(flight: Flight): void {
    this.detach(flight);
    this.running.delete(flight);
  }

  /** Detach every flight that may have read one of `tags` before it changed. */
  detachTags(tags: readonly string[]): void {
    if (this.#byKey.size === 0) return;
    for (const flight of [...this.#untagged]) this.detach(flight);
    for (const tag of tags) {
      const flights = this.#byTag.get(tag);
      if (flights === undefined) continue;
      for (const flight of [...flights]) this.detach(flight);
    }
  }

  detachAll(): void {
    for (const flight of [...this.#byKey.values()]) this.detach(flight);
    this.#untagged.clear();
  }

  get joinableCount(): number {
    return this.#byKey.size;
  }
}

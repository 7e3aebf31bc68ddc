/** Upper bounds (ms) of the event latency buckets; the last bucket holds everything above. */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

export interface LatencyBucket {
  /** Upper bound in ms; Infinity for the last bucket. */
  le: number;
  count: number;
}

/** A fixed-bucket histogram of latencies (ms): constant memory, for a distribution chart. */
export class LatencyHistogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #count = 0;
  #sum = 0;
  #max = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_MS) {
    this.#bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  record(ms: number): void {
    let i = 0;
    while (i < this.#bounds.length && ms > (this.#bounds[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] ?? 0) + 1;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#count;
  }

  get mean(): number | undefined {
    return this.#count === 0 ? undefined : this.#sum / this.#count;
  }

  get max(): number | undefined {
    return this.#count === 0 ? undefined : this.#max;
  }

  buckets(): LatencyBucket[] {
    return this.#counts.map((count, i) => ({ le: this.#bounds[i] ?? Number.POSITIVE_INFINITY, count }));
  }
}

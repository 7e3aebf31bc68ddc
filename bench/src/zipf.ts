/** Draws keys 1..n with P(k) proportional to 1/k^s (a few hot keys, a long tail). */
export class Zipf {
  readonly #cdf: Float64Array;

  constructor(n: number, s = 1) {
    this.#cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 1; k <= n; k++) {
      sum += 1 / k ** s;
      this.#cdf[k - 1] = sum;
    }
    for (let i = 0; i < n; i++) this.#cdf[i] = (this.#cdf[i] ?? 0) / sum;
  }

  next(random: () => number = Math.random): number {
    const u = random();
    let lo = 0;
    let hi = this.#cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#cdf[mid] ?? 1) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}

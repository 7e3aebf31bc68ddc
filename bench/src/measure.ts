import { performance } from "node:perf_hooks";

/** Percentiles of a sample, in the sample's unit. */
export interface Distribution {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(samples: ArrayLike<number>): Distribution {
  const sorted = Float64Array.from(samples).sort();
  const count = sorted.length;
  if (count === 0)
    return { count: 0, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  let sum = 0;
  for (const value of sorted) sum += value;
  const at = (p: number) =>
    sorted[Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))] ?? Number.NaN;
  return {
    count,
    mean: sum / count,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: sorted[count - 1] ?? Number.NaN,
  };
}

/** What a per-call measurement reports: a distribution of single calls and the batched mean. */
export interface CallCost {
  /** Per-call latency in ns (timer overhead subtracted). */
  perCall: Distribution;
  /** Mean ns per call over tight batches (the most accurate figure for very cheap calls). */
  batchedMean: number;
}

let timerOverheadNs: number | undefined;

/** Median cost of reading the clock twice, subtracted from per-call samples. */
export function timerOverhead(): number {
  if (timerOverheadNs !== undefined) return timerOverheadNs;
  const samples = new Float64Array(200_000);
  for (let i = 0; i < samples.length; i++) {
    const t0 = performance.now();
    samples[i] = (performance.now() - t0) * 1e6;
  }
  timerOverheadNs = summarize(samples).p50;
  return timerOverheadNs;
}

export interface MeasureOptions {
  iterations: number;
  warmup: number;
  /** Calls per batch for the batched mean. */
  batch?: number;
}

/** Per-call cost of a synchronous function. */
export function measureSync(fn: (i: number) => unknown, options: MeasureOptions): CallCost {
  const overhead = timerOverhead();
  let sink: unknown;
  for (let i = 0; i < options.warmup; i++) sink = fn(i);
  const samples = new Float64Array(options.iterations);
  for (let i = 0; i < options.iterations; i++) {
    const t0 = performance.now();
    sink = fn(i);
    samples[i] = Math.max(0, (performance.now() - t0) * 1e6 - overhead);
  }
  const batch = options.batch ?? 1000;
  const rounds = Math.max(1, Math.floor(options.iterations / batch));
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (let i = 0; i < batch; i++) sink = fn(i);
  const batchedMean = ((performance.now() - t0) * 1e6) / (rounds * batch);
  keep(sink);
  return { perCall: summarize(samples), batchedMean };
}

/** Per-call cost of an async function, awaited one call at a time (what a single caller pays). */
export async function measureAsync(
  fn: (i: number) => Promise<unknown>,
  options: MeasureOptions,
): Promise<CallCost> {
  const overhead = timerOverhead();
  let sink: unknown;
  for (let i = 0; i < options.warmup; i++) sink = await fn(i);
  const samples = new Float64Array(options.iterations);
  for (let i = 0; i < options.iterations; i++) {
    const t0 = performance.now();
    sink = await fn(i);
    samples[i] = Math.max(0, (performance.now() - t0) * 1e6 - overhead);
  }
  const batch = options.batch ?? 1000;
  const rounds = Math.max(1, Math.floor(options.iterations / batch));
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (let i = 0; i < batch; i++) sink = await fn(i);
  const batchedMean = ((performance.now() - t0) * 1e6) / (rounds * batch);
  keep(sink);
  return { perCall: summarize(samples), batchedMean };
}

let kept: unknown;
/** Keeps results alive so the optimizer cannot drop the measured call. */
function keep(value: unknown): void {
  kept = value;
  if (kept === keep) throw new Error("unreachable");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const now = (): number => performance.now();

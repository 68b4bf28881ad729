// A cheap running summary of durations: count, total, max, last, and percentiles over the
// most recent samples. Recording is O(1) and allocation-free, so it can sit on a hot path.

const WINDOW = 512; // a power of two: the ring index is a mask

export interface TimingSnapshot {
  count: number;
  totalMs: number;
  meanMs: number;
  maxMs: number;
  lastMs: number;
  /** Percentiles over the last 512 samples (a sample may be the mean of a few items; see record). */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export class TimingSummary {
  #count = 0;
  #samples = 0;
  #total = 0;
  #max = 0;
  #last = 0;
  readonly #ring = new Float64Array(WINDOW);

  /**
   * Records `items` units of work that took `ms` in all. With more than one, count and total
   * stay exact and the percentiles, max and last see their mean as one sample.
   */
  record(ms: number, items = 1): void {
    const each = items === 1 ? ms : ms / items;
    this.#ring[this.#samples++ & (WINDOW - 1)] = each;
    this.#count += items;
    this.#total += ms;
    this.#last = each;
    if (each > this.#max) this.#max = each;
  }

  get count(): number {
    return this.#count;
  }

  snapshot(): TimingSnapshot {
    const n = Math.min(this.#samples, WINDOW);
    const sorted = Array.from(this.#ring.subarray(0, n)).sort((a, b) => a - b);
    const pct = (q: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!);
    return {
      count: this.#count,
      totalMs: this.#total,
      meanMs: this.#count === 0 ? 0 : this.#total / this.#count,
      maxMs: this.#max,
      lastMs: this.#last,
      p50Ms: pct(0.5),
      p90Ms: pct(0.9),
      p99Ms: pct(0.99),
    };
  }
}

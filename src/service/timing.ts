// A cheap running summary of durations: count, total, max, last, and percentiles over the
// most recent samples. Recording is O(1) and allocation-free, so it can sit on a hot path.

const WINDOW = 512;

export interface TimingSnapshot {
  count: number;
  totalMs: number;
  meanMs: number;
  maxMs: number;
  lastMs: number;
  /** Percentiles over the last 512 samples. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export class TimingSummary {
  #count = 0;
  #total = 0;
  #max = 0;
  #last = 0;
  readonly #ring = new Float64Array(WINDOW);

  record(ms: number): void {
    this.#ring[this.#count % WINDOW] = ms;
    this.#count++;
    this.#total += ms;
    this.#last = ms;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#count;
  }

  snapshot(): TimingSnapshot {
    const n = Math.min(this.#count, WINDOW);
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

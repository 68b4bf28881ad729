// A small benchmark harness: time a body, summarise latencies, print a ratio against a
// peer measured in the same run. Benchmarks print; they never assert.

import { performance } from 'node:perf_hooks';

export interface Result {
  name: string;
  /** Operations per second. */
  opsPerSec: number;
  /** Wall time of the measured run in ms. */
  ms: number;
  ops: number;
  p50Ms?: number;
  p99Ms?: number;
  extra?: Record<string, number | string>;
}

/** Runs `body` once and returns ops/s for `ops` operations it performed. */
export async function timeIt(name: string, ops: number, body: () => Promise<void> | void): Promise<Result> {
  const start = performance.now();
  await body();
  const ms = performance.now() - start;
  return { name, ops, ms, opsPerSec: (ops / ms) * 1000 };
}

/** The q-th percentile (0..1) of `samples` (ms), by nearest rank. */
export function percentile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function withLatencies(r: Result, samplesMs: number[]): Result {
  return { ...r, p50Ms: percentile(samplesMs, 0.5), p99Ms: percentile(samplesMs, 0.99) };
}

const fmt = (n: number | undefined, digits = 1) =>
  n === undefined || Number.isNaN(n) ? '-' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);

/** Prints a table of results with each one's throughput ratio to `baseline` (by name). */
export function report(title: string, results: Result[], baseline?: string): void {
  const base = results.find((r) => r.name === baseline);
  console.log(`\n## ${title}`);
  console.log(['name', 'ops/s', 'ms', 'p50 ms', 'p99 ms', base ? `x ${base.name}` : ''].join('\t'));
  for (const r of results) {
    const ratio = base ? (r.opsPerSec / base.opsPerSec).toFixed(2) : '';
    const extra = r.extra
      ? '\t' +
        Object.entries(r.extra)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : '';
    console.log([r.name, fmt(r.opsPerSec), fmt(r.ms), fmt(r.p50Ms, 3), fmt(r.p99Ms, 3), ratio].join('\t') + extra);
  }
}

/** Best of `n` runs by throughput, to reduce noise from a busy machine. */
export async function bestOf(n: number, run: () => Promise<Result>): Promise<Result> {
  let best: Result | undefined;
  for (let i = 0; i < n; i++) {
    const r = await run();
    if (best === undefined || r.opsPerSec > best.opsPerSec) best = r;
  }
  return best!;
}

// QueueTask throughput with a trivial execute, against fastq and p-queue in the same run.
// Each library gets the same work: N async items that return their input, at concurrency 1
// and 16, submitted in batches of BATCH (each batch awaited before the next, as a producer
// with a bounded window would), and as one burst of N. Prints items/s and the ratio to fastq.
// p-queue is left out of the burst: its queue dequeues with Array#shift, which is quadratic
// with 200,000 items waiting (about 11k items/s here); set BENCH_PQUEUE_BURST=1 to include it.

import fastq from 'fastq';
import PQueue from 'p-queue';
import { bestOf, report, timeIt, type Result } from '../harness.js';
import { QueueTask, Service } from '../../src/service/index.js';

const N = Number(process.env.BENCH_ITEMS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 1000;

/** Submits N items through `push`, `batch` at a time (N at once for a burst), awaiting each batch. */
async function drive(push: (i: number) => Promise<number>, batch: number): Promise<void> {
  const all: Promise<number>[] = new Array(batch);
  for (let base = 0; base < N; base += batch) {
    const n = Math.min(batch, N - base);
    all.length = n;
    for (let i = 0; i < n; i++) all[i] = push(base + i);
    await Promise.all(all);
  }
}

const trivial = async (x: number): Promise<number> => x;

async function bosun(concurrency: number, batch: number): Promise<Result> {
  class Trivial extends QueueTask<number, number> {
    static override workers = concurrency;
    override execute(x: number): Promise<number> {
      return trivial(x);
    }
  }
  const service = new Service({ name: 'bench', tasks: [Trivial], argv: [], env: {} });
  const task = service.getTask(Trivial);
  await task.submit(-1); // started
  const r = await timeIt('bosun QueueTask', N, () => drive((i) => task.submit(i), batch));
  service.kill();
  await service.wait();
  return r;
}

async function fastqRun(concurrency: number, batch: number): Promise<Result> {
  const q = fastq.promise(trivial, concurrency);
  return timeIt('fastq', N, () => drive((i) => q.push(i), batch));
}

async function pqueueRun(concurrency: number, batch: number): Promise<Result> {
  const q = new PQueue({ concurrency });
  return timeIt('p-queue', N, () => drive((i) => q.add(() => trivial(i), { throwOnTimeout: true }), batch));
}

for (const [label, batch] of [
  [`batches of ${BATCH.toLocaleString('en-US')}`, BATCH],
  ['one burst', N],
] as const) {
  const runs = batch === N && process.env.BENCH_PQUEUE_BURST !== '1' ? [fastqRun, bosun] : [fastqRun, bosun, pqueueRun];
  for (const concurrency of [1, 16]) {
    // Interleave the libraries round by round so machine noise hits them alike; keep each one's best.
    const best = new Map<string, Result>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const run of runs) {
        const r = await bestOf(1, () => run(concurrency, batch));
        const prev = best.get(r.name);
        if (prev === undefined || r.opsPerSec > prev.opsPerSec) best.set(r.name, r);
        (globalThis as { gc?: () => void }).gc?.();
      }
    }
    report(
      `QueueTask, trivial execute, ${N.toLocaleString('en-US')} items in ${label}, concurrency ${concurrency} (best of ${ROUNDS})`,
      [...best.values()],
      'fastq',
    );
  }
}

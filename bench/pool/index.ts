// bench/pool: tiny tasks per second through ProcessPool (2 child processes) against piscina
// (2 worker threads) and against a child_process.fork per task, in the same run.
// Run: node build/bench/pool/index.js   (ratios are printed; nothing is asserted)

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { bestOf, report, timeIt, type Result } from '../harness.js';
import { ProcessPool } from '../../src/process/index.js';

const taskFile = fileURLToPath(new URL('./task.js', import.meta.url));
const forkFile = fileURLToPath(new URL('./fork-task.js', import.meta.url));
const N = Number(process.env.BENCH_POOL_TASKS ?? 50_000);
const FORKS = Number(process.env.BENCH_POOL_FORKS ?? 60);
const SIZE = 2;

async function runAll(run: (i: number) => Promise<number>, n: number): Promise<void> {
  // Keep a bounded window in flight, as a producer feeding a pool would.
  const window = 2048;
  let next = 0;
  let sum = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      sum += await run(i);
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  if (sum === 0) throw new Error('no results');
}

async function benchProcessPool(pipeline?: number): Promise<Result> {
  const pool = new ProcessPool({ module: taskFile, size: SIZE, pipeline });
  await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run<number>('add', [{ a: i, b: 1 }]))); // warm
  const r = await bestOf(3, () =>
    timeIt(pipeline === 1 ? 'ProcessPool (no pipelining)' : 'ProcessPool', N, () =>
      runAll((i) => pool.run<number>('add', [{ a: i, b: 1 }]), N),
    ),
  );
  await pool.close();
  return r;
}

async function benchPiscina(): Promise<Result> {
  const pool = new Piscina({ filename: taskFile, minThreads: SIZE, maxThreads: SIZE });
  await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run({ a: i, b: 1 }))); // warm
  const r = await bestOf(3, () => timeIt('piscina (2 threads)', N, () => runAll((i) => pool.run({ a: i, b: 1 }) as Promise<number>, N)));
  await pool.destroy();
  return r;
}

function forkOnce(i: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(forkFile, [String(i)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: number | undefined;
    child.once('message', (m) => (result = m as number));
    child.once('error', reject);
    child.once('exit', () => (result === undefined ? reject(new Error('no result')) : resolve(result)));
  });
}

async function benchForkPerTask(): Promise<Result> {
  return timeIt('fork per task', FORKS, async () => {
    let next = 0;
    const lane = async () => {
      while (next < FORKS) await forkOnce(next++);
    };
    await Promise.all(Array.from({ length: SIZE }, lane));
  });
}

const results = [await benchProcessPool(), await benchProcessPool(1), await benchPiscina(), await benchForkPerTask()];
report(`pool: ${N.toLocaleString('en-US')} tiny tasks, ${SIZE} workers (fork per task: ${FORKS} tasks)`, results, 'piscina (2 threads)');
const pool = results[0]!;
const forks = results[3]!;
console.log(`ProcessPool / fork per task: ${(pool.opsPerSec / forks.opsPerSec).toFixed(0)}x`);

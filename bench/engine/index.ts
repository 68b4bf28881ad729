// bench/engine: 1,000 manifolds in a 10-deep dependency DAG, real clock, bounceDelayMs 0.
// Measures (1) install until every manifold runs and (2) bouncing the root until every
// dependent has restarted. There is no npm peer for a dependency engine, so the baseline is
// what one writes by hand without it: start the same workers level by level (await each
// level), and for the bounce stop them level by level from the leaves, then start them again.
// The baseline knows the order in advance and keeps no state; the ratio is the engine's cost.

import { performance } from 'node:perf_hooks';
import { noopWorker, stopWorker, type Worker } from '../../src/core/index.js';
import { BounceError, Engine, type Manifold } from '../../src/engine/index.js';
import { bestOf, report, type Result } from '../harness.js';

const N = 1000;
const DEPTH = 10;

interface Shape {
  names: string[][]; // by level
  inputs: Map<string, string[]>;
}

/** Level 0 is one root; levels 1..9 hold 111 manifolds each; each needs up to two of the level above. */
function shape(): Shape {
  const names: string[][] = [['root']];
  const inputs = new Map<string, string[]>([['root', []]]);
  const perLevel = (N - 1) / (DEPTH - 1);
  for (let level = 1; level < DEPTH; level++) {
    const row: string[] = [];
    const above = names[level - 1]!;
    for (let i = 0; i < perLevel; i++) {
      const name = `m${level}.${i}`;
      row.push(name);
      inputs.set(name, level === 1 ? ['root'] : [...new Set([above[i % above.length]!, above[(i * 7 + 3) % above.length]!])]);
    }
    names.push(row);
  }
  return { names, inputs };
}

/** A worker the root's manifold can make fail with BounceError. */
function bounceable(): Worker & { bounce(): void } {
  const inner = noopWorker();
  let bounce!: () => void;
  const bounced = new Promise<void>((_resolve, reject) => (bounce = () => reject(new BounceError('bench'))));
  bounced.catch(() => {});
  return { kill: (r) => inner.kill(r), wait: () => Promise.race([inner.wait(), bounced]), bounce };
}

async function engineRun(s: Shape): Promise<{ install: Result; bounce: Result }> {
  const engine = new Engine({ bounceDelayMs: 0, fuzz: 0 });
  let starts = 0;
  let target = N;
  let reached!: () => void;
  let done = new Promise<void>((r) => (reached = r));
  let root: (Worker & { bounce(): void }) | undefined;
  const counted =
    (make: () => Worker): Manifold['start'] =>
    async () => {
      const w = make();
      if (++starts === target) reached();
      return w;
    };
  const t0 = performance.now();
  for (const level of s.names) {
    for (const name of level) {
      const make = name === 'root' ? () => (root = bounceable()) : noopWorker;
      engine.install(name, { inputs: s.inputs.get(name)!, start: counted(make), output: () => name });
    }
  }
  await done;
  await new Promise<void>((r) => setImmediate(r)); // let the last start be marked running
  const installMs = performance.now() - t0;
  assertAllRunning(engine, 1);

  target = 2 * N;
  done = new Promise<void>((r) => (reached = r));
  const t1 = performance.now();
  root!.bounce();
  await done;
  await new Promise<void>((r) => setImmediate(r));
  const bounceMs = performance.now() - t1;
  assertAllRunning(engine, 2);
  await stopWorker(engine);
  return {
    install: { name: 'bosun Engine', ops: N, ms: installMs, opsPerSec: (N / installMs) * 1000 },
    bounce: { name: 'bosun Engine', ops: N, ms: bounceMs, opsPerSec: (N / bounceMs) * 1000 },
  };
}

function assertAllRunning(engine: Engine, startCount: number): void {
  const r = engine.report();
  const bad = Object.entries(r.manifolds).filter(([, m]) => m.state !== 'running' || m.startCount !== startCount);
  if (bad.length > 0)
    throw new Error(`bench: ${bad.length} manifolds not running with startCount ${startCount}, e.g. ${JSON.stringify(bad[0])}`);
}

async function baselineRun(s: Shape): Promise<{ install: Result; bounce: Result }> {
  const start = async (): Promise<Worker> => noopWorker();
  const workers = new Map<string, Worker>();
  const startAll = async () => {
    for (const level of s.names) {
      const started = await Promise.all(level.map(() => start()));
      level.forEach((name, i) => workers.set(name, started[i]!));
    }
  };
  const t0 = performance.now();
  await startAll();
  const installMs = performance.now() - t0;

  const t1 = performance.now();
  for (let level = s.names.length - 1; level >= 0; level--) {
    await Promise.all(s.names[level]!.map((name) => stopWorker(workers.get(name)!)));
  }
  await startAll();
  const bounceMs = performance.now() - t1;
  await Promise.all([...workers.values()].map((w) => stopWorker(w)));
  return {
    install: { name: 'hand-written topological start', ops: N, ms: installMs, opsPerSec: (N / installMs) * 1000 },
    bounce: { name: 'hand-written stop-all, start-all', ops: N, ms: bounceMs, opsPerSec: (N / bounceMs) * 1000 },
  };
}

async function main(): Promise<void> {
  const s = shape();
  const edges = [...s.inputs.values()].reduce((n, i) => n + i.length, 0);
  console.log(`${N} manifolds, ${DEPTH} levels, ${edges} dependency edges; real clock, bounceDelayMs 0, fuzz 0; best of 7`);
  const gc = (globalThis as { gc?: () => void }).gc;
  // Warm up both, so the JIT has seen the code before anything is timed.
  await engineRun(s);
  await baselineRun(s);
  let engineBounce: Result | undefined;
  let baseBounce: Result | undefined;
  const engineInstall = await bestOf(7, async () => {
    gc?.();
    const r = await engineRun(s);
    if (engineBounce === undefined || r.bounce.opsPerSec > engineBounce.opsPerSec) engineBounce = r.bounce;
    return r.install;
  });
  const baseInstall = await bestOf(7, async () => {
    gc?.();
    const r = await baselineRun(s);
    if (baseBounce === undefined || r.bounce.opsPerSec > baseBounce.opsPerSec) baseBounce = r.bounce;
    return r.install;
  });
  report('install 1,000 manifolds until all run (ops = manifolds started)', [engineInstall, baseInstall], baseInstall.name);
  report('bounce the root until every dependent restarted (ops = manifolds restarted)', [engineBounce!, baseBounce!], baseBounce!.name);
  const goal = (ms: number) => (ms < 100 ? 'under' : 'OVER');
  console.log(
    `\nengine install ${engineInstall.ms.toFixed(1)} ms (${goal(engineInstall.ms)} the 100 ms goal), bounce ${engineBounce!.ms.toFixed(1)} ms (${goal(engineBounce!.ms)} the 100 ms goal)`,
  );
}

await main();

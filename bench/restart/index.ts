// bench/restart: how fast a crashed in-process child is running again, with no backoff.
// The same child (a Worker whose wait() rejects the moment it starts) is restarted N
// times by a bosun Supervisor, a bosun Runner, a hand-written restart loop, and effect's
// Effect.retry(Schedule.forever). Reports restarts/s and crash-to-running latency.
// Every hand-written contender but one gives each run a new AbortSignal, as a supervisor
// must be able to stop one run; "one signal" shares one signal and keeps no books at all,
// the floor for any restart loop. (new AbortController() dominates a restart on Node 20;
// the Supervisor hands a run's signal on to the next run when nothing listens to it.)

import { performance } from 'node:perf_hooks';
import { Effect, Schedule } from 'effect';
import { Runner, Supervisor, type Worker } from '../../src/core/index.js';
import { report, timeIt, withLatencies, type Result } from '../harness.js';

const N = Number(process.env.RESTARTS ?? 100_000);
const crash = new Error('crash'); // one error object: stack capture is not what we measure

/** A child that is told at start whether to crash at once or to run until killed. */
class Child implements Worker {
  readonly #p: Promise<void>;
  #resolve!: () => void;
  #reject!: (e: Error) => void;
  constructor() {
    this.#p = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }
  crash(): void {
    this.#reject(crash);
  }
  kill(): void {
    this.#resolve();
  }
  wait(): Promise<void> {
    return this.#p;
  }
}

/** The shared start function: records crash-to-running latency, crashes N times, then stops cleanly. */
function scenario() {
  const latencies = new Float64Array(N);
  let n = 0;
  let crashedAt = 0;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const start = (_signal: AbortSignal): Child => {
    const now = performance.now();
    if (n > 0) latencies[n - 1] = now - crashedAt;
    const child = new Child();
    if (n < N) {
      n++;
      crashedAt = performance.now();
      child.crash();
    } else {
      child.kill(); // the N-th restart is running: stop cleanly
      finished();
    }
    return child;
  };
  return { start, done, samples: () => Array.from(latencies) };
}

async function supervisor(): Promise<Result> {
  const s = scenario();
  let sup!: Supervisor;
  const r = await timeIt('bosun Supervisor', N, async () => {
    sup = new Supervisor({
      intensity: Infinity,
      backoff: { initialMs: 0 },
      children: [{ id: 'child', restart: 'transient', start: s.start }],
    });
    await s.done;
  });
  sup.kill();
  await sup.wait();
  return withLatencies(r, s.samples());
}

async function runner(): Promise<Result> {
  const s = scenario();
  let run!: Runner;
  const r = await timeIt('bosun Runner', N, async () => {
    run = new Runner({ restartDelayMs: 0 });
    await run.startWorker('child', s.start);
    await s.done;
  });
  run.kill();
  await run.wait();
  return withLatencies(r, s.samples());
}

/** What one would write by hand: start, wait, on error start again; each run gets its own signal. */
async function handLoop(): Promise<Result> {
  const s = scenario();
  const r = await timeIt('hand-written loop', N, async () => {
    for (;;) {
      const ac = new AbortController();
      const child = s.start(ac.signal);
      try {
        await child.wait();
        break; // a clean stop ends the loop
      } catch {
        // crashed: go round again
      }
    }
    await s.done;
  });
  return withLatencies(r, s.samples());
}

/** The tightest loop by hand: promise callbacks, no async/await; still a signal per run. */
async function callbackLoop(): Promise<Result> {
  const s = scenario();
  const r = await timeIt('hand-written callbacks', N, async () => {
    await new Promise<void>((resolve) => {
      const again = (): void => {
        s.start(new AbortController().signal).wait().then(resolve, again);
      };
      again();
    });
    await s.done;
  });
  return withLatencies(r, s.samples());
}

/** The same loop with one signal for all runs: a lower bound that shows what per-run signals cost. */
async function sharedSignalLoop(): Promise<Result> {
  const s = scenario();
  const { signal } = new AbortController();
  const r = await timeIt('hand-written callbacks, one signal', N, async () => {
    await new Promise<void>((resolve) => {
      const again = (): void => {
        s.start(signal).wait().then(resolve, again);
      };
      again();
    });
    await s.done;
  });
  return withLatencies(r, s.samples());
}

async function effectRetry(): Promise<Result> {
  const s = scenario();
  const once = Effect.async<void, Error>((resume) => {
    const child = s.start(new AbortController().signal);
    child.wait().then(
      () => resume(Effect.void),
      (err: Error) => resume(Effect.fail(err)),
    );
    return Effect.sync(() => child.kill());
  });
  const r = await timeIt('effect Effect.retry', N, async () => {
    await Effect.runPromise(Effect.retry(once, Schedule.forever));
    await s.done;
  });
  return withLatencies(r, s.samples());
}

const runs: [string, () => Promise<Result>][] = [
  ['sup', supervisor],
  ['runner', runner],
  ['hand', handLoop],
  ['callbacks', callbackLoop],
  ['shared', sharedSignalLoop],
  ['effect', effectRetry],
];
for (const [, run] of runs) await run(); // warm up every contender once
// Rounds interleave the contenders, so a burst of load elsewhere on the machine hurts all of
// them alike; each keeps its best round.
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const best = new Map<string, Result>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [key, run] of runs) {
    const r = await run();
    const prev = best.get(key);
    if (prev === undefined || r.opsPerSec > prev.opsPerSec) best.set(key, r);
  }
}
const results = runs.map(([key]) => best.get(key)!);
report(
  `crash-to-running restart, no backoff, ${N.toLocaleString('en-US')} restarts (best of ${ROUNDS} interleaved rounds)`,
  results,
  'hand-written callbacks',
);
const sup = results[0]!;
for (const hand of [results[2]!, results[3]!, results[4]!]) {
  console.log(`${hand.name} restarts ${(hand.opsPerSec / sup.opsPerSec).toFixed(2)}x as fast as bosun Supervisor (goal <= 1.5x)`);
}
console.log(`bosun Supervisor: ${Math.round(sup.opsPerSec).toLocaleString('en-US')} restarts/s (goal >= 50,000)`);

// A small supervisor tree on the real clock: children crash, are restarted with growing
// backoff, a nested rest_for_one supervisor restarts a pipeline stage and the stages after
// it, and after about five seconds the tree stops itself cleanly, in reverse start order.
//
//   node build/examples/supervisor-demo.js

import { Supervisor, startWorker, systemClock, type SupervisorEvents } from '../src/core/index.js';

const t0 = Date.now();
const stamp = () => `+${((Date.now() - t0) / 1000).toFixed(2)}s`.padEnd(8);

/** Runs until killed, crashing after each of `crashAfterMs` in turn (one per run). */
function crashy(name: string, crashAfterMs: number[]) {
  let run = 0;
  return (signal: AbortSignal) => {
    const after = crashAfterMs[run++];
    return startWorker(async () => {
      if (after === undefined) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        return;
      }
      await systemClock.sleep(after, signal);
      throw new Error(`${name} lost its connection (run ${run})`);
    });
  };
}

function watch(sup: Supervisor): void {
  const at = (e: { supervisor: string; id: string }) => `${stamp()} ${e.supervisor}/${e.id}`;
  sup.on('childStarted', (e) => console.log(`${at(e)} started${e.restarts ? ` (restart ${e.restarts})` : ''}`));
  sup.on('childExited', (e: SupervisorEvents['childExited']) =>
    console.log(`${at(e)} ${e.error ? `crashed: ${e.error.message}` : e.killed ? 'stopped' : 'exited'}`),
  );
  sup.on('childRestarting', (e) => console.log(`${at(e)} restarting in ${e.delayMs} ms`));
  sup.on('gaveUp', (e) => console.log(`${stamp()} ${e.supervisor} gave up: ${e.error.message}`));
}

const root = new Supervisor({
  name: 'root',
  intensity: 10,
  periodMs: 5000,
  backoff: { initialMs: 200, factor: 2, maxMs: 2000, jitter: 0.1 },
  children: [
    // Crashes three times in quick succession: watch the delay double each time.
    { id: 'flaky', start: crashy('flaky', [300, 100, 100]) },
    {
      id: 'pipeline',
      start: () => {
        const pipeline = new Supervisor({
          name: 'pipeline',
          strategy: 'rest_for_one',
          intensity: 3,
          backoff: { initialMs: 100, jitter: 0 },
          children: [
            { id: 'reader', start: crashy('reader', [1800]) },
            { id: 'parser', start: crashy('parser', []) },
            { id: 'writer', start: crashy('writer', []) },
          ],
        });
        watch(pipeline);
        return pipeline;
      },
    },
  ],
});
watch(root);
console.log(`${stamp()} supervisor tree running for about 5 s`);

const stopAt = systemClock.setTimeout(() => {
  console.log(`${stamp()} stopping the tree`);
  root.kill();
}, 5000);
try {
  await root.wait();
  console.log(`${stamp()} stopped cleanly`);
} catch (err) {
  stopAt.clear();
  console.error(`${stamp()} tree failed:`, err);
  process.exitCode = 1;
}

// The README's first example: a supervisor with a steady child and a flaky one that crashes
// until the supervisor gives up.   node build/examples/first.js

import { Supervisor, startWorker, systemClock } from '../src/index.js';

const sup = new Supervisor({
  strategy: 'one_for_one',
  intensity: 3,
  periodMs: 10_000, // more than 3 restarts in 10 s: give up
  backoff: { initialMs: 200, factor: 2, maxMs: 5_000, jitter: 0.1, resetAfterMs: 30_000 },
  children: [
    {
      id: 'ticker',
      start: () =>
        startWorker(async (signal) => {
          while (!signal.aborted) {
            console.log('tick');
            await systemClock.sleep(500, signal);
          }
        }),
    },
    {
      id: 'flaky',
      start: () =>
        startWorker(async () => {
          throw new Error('boom');
        }),
    },
  ],
});
sup.on('childRestarting', (e) => console.log(`${e.id} restarting in ${e.delayMs} ms after: ${e.error?.message}`));
await sup.wait().catch((err: Error) => console.log(`gave up: ${err.message}`));

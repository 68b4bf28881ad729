// A durable job queue on embedded PGlite (./.bosun/queue by default, or the dir given as the
// first argument): add jobs, run a worker of concurrency 4, print progress, stop, exit.
// Run: node build/examples/queue-demo.js [dir]

import { stopWorker } from '../src/core/index.js';
import { JobQueue, pgliteStore } from '../src/queue/index.js';

const TOTAL = 200;
const q = await JobQueue.open({ store: pgliteStore(process.argv[2]) });

// One job fails on its first run and is retried after a short backoff.
const failedOnce = new Set<number>();
let done = 0;
q.onEvent((e) => {
  if (e.type === 'done' && ++done % 50 === 0) console.log(`${done}/${TOTAL} done`);
  if (e.type === 'error') console.log(`job ${e.job.id} failed (${e.error.message}); retry: ${e.willRetry}`);
});

const batch = `demo-${Date.now()}`;
await q.addMany(Array.from({ length: TOTAL }, (_, n) => ({ kind: 'square', payload: { n, batch } })));
console.log(`added ${TOTAL} jobs`);

const worker = q.worker<{ n: number; batch: string }>(
  'square',
  async (job, signal) => {
    const { n } = job.payload;
    if (n === 7 && !failedOnce.has(n)) {
      failedOnce.add(n);
      throw new Error('seven is unlucky the first time');
    }
    await new Promise((r) => setTimeout(r, 2));
    signal.throwIfAborted();
  },
  { concurrency: 4, pollMs: 100, backoff: { initialMs: 200 } },
);

while (done < TOTAL) await new Promise((r) => setTimeout(r, 50));
const counts = await q.counts();
console.log('counts for square:', counts.byKind['square']);
await stopWorker(worker);
await q.prune({ olderThanMs: 0 });
await q.close();
console.log('queue closed');

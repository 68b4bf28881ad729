// A Worker runs once: a start that hands the supervisor the Worker of the child's previous run
// is refused, and the supervisor stops with ReusedWorkerError instead of restarting a corpse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReusedWorkerError, Supervisor, startWorker, type Worker } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

test('a start that returns the Worker of the previous run stops the supervisor with ReusedWorkerError', async () => {
  const clock = new TestClock();
  let fail!: (err: Error) => void;
  const once = startWorker(() => new Promise<void>((_, reject) => (fail = reject)));
  let starts = 0;
  const sup = new Supervisor({
    clock,
    intensity: 100,
    backoff: { initialMs: 0 },
    children: [{ id: 'svc', start: () => (starts++, once) }],
  });
  fail(new Error('crashed'));
  const err = await sup.wait().catch((e: unknown) => e);
  assert.ok(err instanceof ReusedWorkerError, `got ${String(err)}`);
  assert.equal(err.code, 'ERR_REUSED_WORKER');
  assert.match(err.message, /child svc: start returned the Worker of its previous run.*build it inside start/);
  assert.equal(starts, 2, 'refused at the first restart, not retried until the intensity runs out');
});

test('a promise start that resolves to the previous Worker is refused too; a fresh Worker each start is fine', async () => {
  const clock = new TestClock();
  let fail!: (err: Error) => void;
  const once = startWorker(() => new Promise<void>((_, reject) => (fail = reject)));
  const reused = new Supervisor({ clock, intensity: 100, backoff: { initialMs: 0 }, children: [{ id: 'p', start: async () => once }] });
  await reused.started();
  fail(new Error('crashed'));
  await assert.rejects(reused.wait(), ReusedWorkerError);

  let fresh = 0;
  const workers: Worker[] = [];
  const ok = new Supervisor({
    clock,
    intensity: 100,
    backoff: { initialMs: 0 },
    children: [
      {
        id: 'f',
        start: () => {
          const w = startWorker(async (signal) => {
            if (++fresh < 3) throw new Error(`crash ${fresh}`);
            await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          });
          workers.push(w);
          return w;
        },
      },
    ],
  });
  while (fresh < 3) await clock.advance(0);
  assert.equal(new Set(workers).size, 3);
  assert.equal(ok.report().children[0]!.state, 'running');
  ok.kill();
  await ok.wait();
});

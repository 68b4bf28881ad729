// checkKilled: a stopped worker's outcome, or a bounded failure naming what still runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, noopWorker, startWorker, type Worker } from '../../src/index.js';
import { StillRunningError, TestClock, checkKilled } from '../../src/testing/index.js';

test('checkKilled resolves undefined for a worker that stops cleanly when killed', async () => {
  const w = startWorker((signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })));
  assert.equal(await checkKilled(w, 1000), undefined);
  assert.equal(await checkKilled(noopWorker(), 1000), undefined);
});

test('checkKilled resolves with the error a worker stopped with', async () => {
  const boom = new Error('boom');
  const w = startWorker(async (signal) => {
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    throw boom;
  });
  assert.equal(await checkKilled(w, 1000), boom);
});

test('checkKilled fails after its bound, naming the report of a worker that does not stop', async () => {
  const stuck: Worker & { report(): object } = {
    kill() {},
    wait: () => new Promise<void>(() => {}),
    report: () => ({ still: 'draining', queued: 3 }),
  };
  const err = await checkKilled(stuck, 5).catch((e: unknown) => e);
  assert.ok(err instanceof StillRunningError, `got ${String(err)}`);
  assert.equal(err.code, 'ERR_TIMEOUT');
  assert.deepEqual(err.report, { still: 'draining', queued: 3 });
  assert.match(err.message, /did not stop within 5 ms.*"still":"draining"/);
});

test('checkKilled bounds a worker waiting on a TestClock that nobody advances', async () => {
  const clock = new TestClock();
  const engine = new Engine({ clock, fuzz: 0 });
  engine.install('slow', {
    start: async () => {
      const stopped = clock.sleep(60_000); // ignores kill: stops only when the clock says so
      return { kill() {}, wait: () => stopped };
    },
  });
  await clock.advance(0);
  const err = await checkKilled(engine, 5).catch((e: unknown) => e);
  assert.ok(err instanceof StillRunningError);
  assert.match(err.message, /"slow"/, 'the engine report names the manifold still running');
  await clock.advance(60_000);
  await engine.wait();
});

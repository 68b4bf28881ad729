import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KilledError, finishedWorker, noopWorker, periodicWorker, startWorker, stopWorker } from '../../src/core/index.js';
import { TestClock, settle } from '../../src/testing/index.js';

describe('startWorker', () => {
  test('a killed function worker sees its signal aborted, wait() resolves, and a second kill() is harmless', async () => {
    let seen: AbortSignal | undefined;
    const w = startWorker(
      (signal) =>
        new Promise<void>((_, reject) => {
          seen = signal;
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    );
    w.kill();
    assert.equal(seen?.aborted, true);
    assert.ok(seen?.reason instanceof KilledError);
    await w.wait();
    w.kill();
    w.kill(new Error('later'));
    await w.wait();
  });

  test('a function worker that throws rejects wait() with that same error object', async () => {
    const boom = new Error('boom');
    const sync = startWorker(() => {
      throw boom;
    });
    await assert.rejects(sync.wait(), (err: unknown) => err === boom);
    const async = startWorker(async () => {
      await settle(1);
      throw boom;
    });
    await assert.rejects(async.wait(), (err: unknown) => err === boom);
  });

  test('an error that is not the abort, thrown after a kill, still fails the worker', async () => {
    const boom = new Error('cleanup failed');
    const w = startWorker(
      (signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(boom), { once: true })),
    );
    w.kill();
    await assert.rejects(w.wait(), (err: unknown) => err === boom);
  });

  test('kill(reason) passes the reason to the signal', async () => {
    const reason = new Error('shutting down');
    let seen: unknown;
    const w = startWorker(
      (signal) =>
        new Promise<void>((resolve) => signal.addEventListener('abort', () => ((seen = signal.reason), resolve()), { once: true })),
    );
    await stopWorker(w, reason);
    assert.equal(seen, reason);
  });
});

describe('small workers', () => {
  test('finishedWorker has already stopped cleanly', async () => {
    const w = finishedWorker();
    w.kill();
    await w.wait();
  });

  test('noopWorker runs until killed', async () => {
    const w = noopWorker();
    let done = false;
    void w.wait().then(() => (done = true));
    await settle();
    assert.equal(done, false);
    await stopWorker(w);
  });

  test('periodicWorker calls fn at once and then every period after the previous call ended', async () => {
    const clock = new TestClock();
    const calls: number[] = [];
    const w = periodicWorker(() => void calls.push(clock.now()), 1000, { clock });
    await clock.advance(3500);
    assert.deepEqual(calls, [0, 1000, 2000, 3000]);
    await stopWorker(w);
    assert.equal(clock.pending(), 0);
  });

  test('periodicWorker stops with the error of fn', async () => {
    const clock = new TestClock();
    const boom = new Error('tick failed');
    let n = 0;
    const w = periodicWorker(
      () => {
        if (++n === 2) throw boom;
      },
      10,
      { clock },
    );
    await clock.advance(10);
    await assert.rejects(w.wait(), (err: unknown) => err === boom);
    assert.equal(clock.pending(), 0);
  });
});

describe('unhandled rejections', () => {
  test('wait() with nobody calling it makes no unhandled rejection', () => {
    // A separate process, so that a stray rejection is seen by the default handler and
    // fails it, whatever the test runner does with rejections of its own.
    const script = fileURLToPath(new URL('./fixtures/unobserved-failure.js', import.meta.url));
    const r = spawnSync(process.execPath, ['--unhandled-rejections=strict', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
    assert.match(r.stdout, /done/);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { AlreadyExistsError, DeadError, NotFoundError, Runner, startWorker, stopWorker, type Worker } from '../../src/core/index.js';
import { TestClock, settle } from '../../src/testing/index.js';

/** A start function whose runs the test can fail or finish, counting calls. */
function controlled() {
  const runs: { worker: Worker; fail: (e: Error) => void; finish: () => void }[] = [];
  const start = () => {
    let fail!: (e: Error) => void;
    let finish!: () => void;
    const worker = startWorker(
      (signal) =>
        new Promise<void>((resolve, reject) => {
          fail = reject;
          finish = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    );
    runs.push({ worker, fail, finish });
    return worker;
  };
  return { runs, start, last: () => runs[runs.length - 1]! };
}

describe('Runner', () => {
  test('startWorker with an id in use rejects with AlreadyExistsError', async () => {
    const runner = new Runner({ clock: new TestClock() });
    const a = controlled();
    await runner.startWorker('a', a.start);
    await assert.rejects(runner.startWorker('a', a.start), AlreadyExistsError);
    assert.equal(a.runs.length, 1);
    assert.deepEqual(runner.workerNames(), ['a']);
    await stopWorker(runner);
  });

  test('a worker that returns cleanly is removed and not restarted', async () => {
    const clock = new TestClock();
    const runner = new Runner({ clock });
    const a = controlled();
    await runner.startWorker('a', a.start);
    a.last().finish();
    await clock.advance(10_000);
    assert.equal(a.runs.length, 1);
    assert.deepEqual(runner.workerNames(), []);
    await assert.rejects(runner.worker('a'), NotFoundError);
    await runner.startWorker('a', a.start);
    assert.equal(a.runs.length, 2, 'the id is free again');
    await stopWorker(runner);
  });

  test('an erroring worker restarts after restartDelayMs (default 3000)', async () => {
    const clock = new TestClock();
    const runner = new Runner({ clock });
    const delays: number[] = [];
    runner.on('childRestarting', (e) => delays.push(e.delayMs));
    const a = controlled();
    await runner.startWorker('a', a.start);
    a.last().fail(new Error('transient trouble'));
    await clock.advance(2999);
    assert.equal(a.runs.length, 1);
    assert.equal(runner.report().workers['a']!.state, 'restarting');
    await clock.advance(1);
    assert.equal(a.runs.length, 2);
    // The delay does not grow: juju restarts after the same delay every time.
    a.last().fail(new Error('again'));
    await clock.advance(3000);
    assert.equal(a.runs.length, 3);
    assert.deepEqual(delays, [3000, 3000]);
    await stopWorker(runner);
    assert.equal(clock.pending(), 0);
  });

  test('a start function that throws is retried like a failed worker', async () => {
    const clock = new TestClock();
    const runner = new Runner({ clock, restartDelayMs: 50 });
    let calls = 0;
    await runner.startWorker('a', () => {
      if (++calls === 1) throw new Error('not yet');
      return startWorker((signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })));
    });
    await clock.advance(50);
    assert.equal(calls, 2);
    assert.equal(runner.report().workers['a']!.lastError, 'not yet');
    await stopWorker(runner);
  });

  test('a fatal error stops every worker and the runner rejects with the most important fatal error', async () => {
    const clock = new TestClock();
    class Fatal extends Error {
      constructor(
        message: string,
        readonly rank: number,
      ) {
        super(message);
      }
    }
    const runner = new Runner({
      clock,
      isFatal: (err) => err instanceof Fatal,
      moreImportant: (a, b) => (a as Fatal).rank > (b as Fatal).rank,
    });
    const minor = new Fatal('minor', 1);
    const major = new Fatal('major', 2);
    // b fails with the more important error while it is being stopped because of a's.
    await runner.startWorker('a', () => startWorker(() => new Promise<void>((_, reject) => setImmediate(() => reject(minor)))));
    await runner.startWorker('b', () =>
      startWorker((signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(major), { once: true }))),
    );
    const c = controlled();
    await runner.startWorker('c', c.start);
    await assert.rejects(runner.wait(), (err: unknown) => err === major);
    assert.equal(c.runs.length, 1);
    assert.equal(c.last().worker instanceof Object, true);
    await c.last().worker.wait(); // c was stopped, cleanly
    assert.equal(runner.report().state, 'stopped');
  });

  test('by default no error is fatal and the first fatal error wins', async () => {
    const clock = new TestClock();
    const quiet = new Runner({ clock, restartDelayMs: 10 });
    const a = controlled();
    await quiet.startWorker('a', a.start);
    a.last().fail(new Error('not fatal'));
    await clock.advance(10);
    assert.equal(a.runs.length, 2);
    await stopWorker(quiet);

    const first = new Error('first');
    const runner = new Runner({ clock, isFatal: () => true });
    let failX!: () => void;
    await runner.startWorker('y', () =>
      startWorker(
        (signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new Error('second')), { once: true })),
      ),
    );
    await runner.startWorker('x', () => startWorker(() => new Promise<void>((_, reject) => (failX = () => reject(first)))));
    failX();
    await assert.rejects(runner.wait(), (err: unknown) => err === first);
  });

  test('after the runner stopped, startWorker rejects with DeadError', async () => {
    const runner = new Runner({ clock: new TestClock() });
    runner.kill();
    await assert.rejects(runner.startWorker('a', controlled().start), DeadError);
    await runner.wait();
    await assert.rejects(runner.startWorker('a', controlled().start), DeadError);
    await assert.rejects(runner.stopWorker('a'), DeadError);
    await assert.rejects(runner.worker('a'), DeadError);
  });

  test('worker(id) waits for a starting worker', async () => {
    const clock = new TestClock();
    const runner = new Runner({ clock });
    const w = startWorker((signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })));
    await runner.startWorker('slow', async (signal) => {
      await clock.sleep(100, signal);
      return w;
    });
    let got: Worker | undefined;
    void runner.worker('slow').then((x) => (got = x));
    await clock.advance(99);
    assert.equal(got, undefined);
    await clock.advance(1);
    assert.equal(got, w);
    assert.equal(await runner.worker('slow'), w, 'a running worker is returned at once');
    await stopWorker(runner);
  });

  test('worker(id) waits through a restart and rejects when the runner is killed', async () => {
    const clock = new TestClock();
    const runner = new Runner({ clock, restartDelayMs: 100 });
    const a = controlled();
    await runner.startWorker('a', a.start);
    a.last().fail(new Error('x'));
    await settle();
    const pending = runner.worker('a');
    await clock.advance(100);
    assert.equal(await pending, a.last().worker);
    a.last().fail(new Error('y'));
    await settle();
    const waiting = runner.worker('a');
    runner.kill();
    await assert.rejects(waiting, DeadError);
    await runner.wait();
    assert.equal(runner.pendingWaiters(), 0);
  });

  test('worker(id, signal) rejects with the abort reason and removes its abort listener', async () => {
    const clock = new TestClock();
    const runner = new Runner({ clock });
    // Never produces a worker; gives up only when its signal aborts.
    await runner.startWorker(
      'never',
      (signal) => new Promise<Worker>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    );
    const ac = new AbortController();
    const waiting = runner.worker('never', ac.signal);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
    const reason = new Error('gave up waiting');
    ac.abort(reason);
    await assert.rejects(waiting, (err: unknown) => err === reason);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    // A waiter that is resolved also removes its listener.
    const ac2 = new AbortController();
    const a = controlled();
    await runner.startWorker('soon', (signal) => clock.sleep(5, signal).then(() => a.start()));
    const got = runner.worker('soon', ac2.signal);
    await clock.advance(5);
    await got;
    assert.equal(getEventListeners(ac2.signal, 'abort').length, 0);
    assert.equal(runner.pendingWaiters(), 0);
    await assert.rejects(runner.worker('nope'), NotFoundError);
    await stopWorker(runner);
  });

  test('stopWorker stops and removes a worker; an unknown id is a no-op', async () => {
    const runner = new Runner({ clock: new TestClock() });
    const a = controlled();
    await runner.startWorker('a', a.start);
    await runner.stopWorker('a');
    await a.last().worker.wait();
    assert.deepEqual(runner.workerNames(), []);
    await runner.stopWorker('a');
    await stopWorker(runner);
  });

  test("report() shows each worker's state", async () => {
    const clock = new TestClock(1000);
    const runner = new Runner({ clock, restartDelayMs: 100 });
    const a = controlled();
    const b = controlled();
    await runner.startWorker('a', a.start);
    await runner.startWorker('b', b.start);
    b.last().fail(new Error('b broke'));
    await settle();
    assert.deepEqual(runner.report(), {
      state: 'running',
      workers: {
        a: { state: 'running', restarts: 0, startedAt: 1000 },
        b: { state: 'restarting', restarts: 1, lastError: 'b broke', startedAt: 1000 },
      },
    });
    runner.kill();
    assert.equal(runner.report().state, 'stopping');
    await runner.wait();
    assert.equal(runner.report().state, 'stopped');
  });
});

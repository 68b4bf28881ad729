// A child's own restart limit and backoff (ChildSpec.intensity/periodMs/backoff), and where
// startChild puts a child (`before`): what a supervisor of many independent children (the
// fleet's programs) needs beside OTP's supervisor-wide intensity.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RestartIntensityError } from '../../src/core/errors.js';
import { Supervisor } from '../../src/core/supervisor.js';
import { startWorker, type Worker } from '../../src/core/worker.js';
import { TestClock } from '../../src/testing/test-clock.js';

/** A worker that runs until aborted or until the test calls its crash(). */
function crashable(): { worker: Worker; crash(err: Error): void } {
  let crash!: (err: Error) => void;
  const worker = startWorker(
    (signal) =>
      new Promise<void>((resolve, reject) => {
        crash = reject;
        signal.addEventListener('abort', () => resolve(), { once: true });
      }),
  );
  return { worker, crash: (err) => crash(err) };
}

describe('a child with its own restart limit', () => {
  test('past its own intensity the child alone is failed; its sibling and the supervisor keep running', async () => {
    const clock = new TestClock();
    const runs: Record<string, ReturnType<typeof crashable>[]> = { a: [], b: [] };
    const spec = (id: 'a' | 'b') => ({
      id,
      intensity: 2,
      periodMs: 10_000,
      backoff: { initialMs: 50, factor: 1, jitter: 0 },
      start: () => {
        const c = crashable();
        runs[id].push(c);
        return c.worker;
      },
    });
    const failed: string[] = [];
    const sup = new Supervisor({ clock, strategy: 'one_for_all', intensity: Infinity, children: [spec('a'), spec('b')] });
    sup.on('childFailed', (e) => failed.push(e.id));
    await clock.advance(0);
    for (let i = 0; i < 3; i++) {
      runs.a.at(-1)!.crash(new Error(`boom ${i}`));
      await clock.advance(0);
      await clock.advance(50);
    }
    const [a, b] = sup.children();
    assert.equal(a!.state, 'failed');
    assert.ok(a!.lastError instanceof RestartIntensityError);
    assert.match(a!.lastError!.message, /child a .* gave up: more than 2 restarts in 10000 ms \(last: failed: boom 2\)/);
    assert.equal((a!.lastError!.cause as Error).message, 'boom 2');
    assert.deepEqual(failed, ['a']);
    assert.equal(b!.state, 'running');
    // one_for_all restarted b with each of a's two restarts, but not for the one a did not get.
    assert.equal(runs.b.length, 3);
    assert.equal(runs.a.length, 3);
    // A restart by hand starts a fresh count.
    await sup.restartChild('a');
    assert.equal(sup.children()[0]!.state, 'running');
    runs.a.at(-1)!.crash(new Error('again'));
    await clock.advance(0);
    assert.equal(sup.children()[0]!.state, 'restarting');
    sup.kill();
    await clock.advance(100);
    await sup.wait();
  });

  test("a child's own backoff replaces the supervisor's", async () => {
    const clock = new TestClock();
    const delays: Record<string, number[]> = {};
    const runs: ReturnType<typeof crashable>[] = [];
    const sup = new Supervisor({
      clock,
      intensity: Infinity,
      backoff: { initialMs: 1000, jitter: 0 },
      children: [
        { id: 'own', backoff: { initialMs: 10, factor: 3, jitter: 0 }, start: () => (runs.push(crashable()), runs.at(-1)!.worker) },
      ],
    });
    sup.on('childRestarting', (e) => (delays[e.id] ??= []).push(e.delayMs));
    await clock.advance(0);
    for (let i = 0; i < 3; i++) {
      runs.at(-1)!.crash(new Error('x'));
      await clock.advance(0);
      await clock.advance(delays['own']!.at(-1)!);
    }
    assert.deepEqual(delays['own'], [10, 30, 90]);
    sup.kill();
    await sup.wait();
  });

  test('bad limits are refused at the call that gave them, naming the child', () => {
    assert.throws(
      () => new Supervisor({ children: [{ id: 'x', intensity: -1, start: () => crashable().worker }] }),
      /child x: intensity must be/,
    );
    assert.throws(
      () => new Supervisor({ children: [{ id: 'y', backoff: { factor: 0.5 }, start: () => crashable().worker }] }),
      /child y: backoff.factor must be/,
    );
  });

  test('startChild puts the child before the sibling named, else last', async () => {
    const clock = new TestClock();
    const sup = new Supervisor({
      clock,
      children: [
        { id: 'a', start: () => crashable().worker },
        { id: 'c', start: () => crashable().worker },
      ],
    });
    await clock.advance(0);
    await sup.startChild({ id: 'b', start: () => crashable().worker }, { before: 'c' });
    await sup.startChild({ id: 'd', start: () => crashable().worker });
    assert.deepEqual(
      sup.children().map((c) => c.id),
      ['a', 'b', 'c', 'd'],
    );
    sup.kill();
    await sup.wait();
  });
});

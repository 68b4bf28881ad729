// How the engine reacts to errors: MissingError, backoff, fuzz, BounceError, UninstallError,
// filter, and fatal errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stopWorker } from '../../src/core/index.js';
import { BounceError, Engine, MissingError, UninstallError } from '../../src/engine/index.js';
import { TestClock, settle } from '../../src/testing/index.js';
import { Fleet, setup } from './helpers.js';

test('a start that throws MissingError is not retried until one of its inputs changes', async () => {
  const { clock, engine, fleet } = setup();
  let ready = false;
  engine.install('a', fleet.manifold('a'));
  engine.install(
    'b',
    fleet.manifold('b', {
      inputs: ['a'],
      before: () => {
        if (!ready) throw new MissingError('a has no address yet');
      },
    }),
  );
  await clock.advance(600_000);
  assert.equal(fleet.attempts.get('b'), 1, 'no spinning while nothing changed');
  assert.equal(engine.report().manifolds['b']?.state, 'stopped');
  assert.equal(clock.pending(), 0);

  ready = true;
  fleet.workers.get('a')!.fail(new BounceError());
  await clock.advance(100);
  assert.equal(fleet.attempts.get('b'), 2, 'a restarted: b tries again');
  assert.equal(engine.report().manifolds['b']?.state, 'running');
  await stopWorker(engine);
});

test('errors back off: errorDelay 1 s, factor 2, max 3 s restarts after 1, 2, 3, 3 s', async () => {
  const { clock, engine, fleet } = setup({ backoffFactor: 2, maxDelayMs: 3000 });
  const times: number[] = [];
  engine.install(
    'a',
    fleet.manifold('a', {
      before: () => {
        times.push(clock.now());
        throw new Error('cannot connect');
      },
    }),
  );
  await clock.advance(9500);
  assert.deepEqual(times, [0, 1000, 3000, 6000, 9000]);
  assert.equal(engine.report().manifolds['a']?.lastError, 'cannot connect');
  await stopWorker(engine);
});

test('a manifold that ran longer than backoffResetMs starts its backoff again from errorDelayMs', async () => {
  const { clock, engine, fleet } = setup({ backoffFactor: 2, maxDelayMs: 60_000, backoffResetMs: 5000 });
  engine.install(
    'a',
    fleet.manifold('a', {
      before: (_ctx, attempt) => {
        if (attempt <= 2) throw new Error('not yet');
      },
    }),
  );
  await clock.advance(3000); // fails at 0 and 1000; starts at 3000
  assert.deepEqual(fleet.startedAt.get('a'), [3000]);

  await clock.advance(6000); // ran 6 s > backoffResetMs
  fleet.workers.get('a')!.fail(new Error('lost'));
  await clock.advance(1000);
  assert.deepEqual(fleet.startedAt.get('a'), [3000, 10_000], 'restarted after errorDelayMs, not 4 s');

  await clock.advance(100); // ran 100 ms only: the backoff keeps growing
  fleet.workers.get('a')!.fail(new Error('lost again'));
  await clock.advance(1999);
  assert.equal(fleet.startedAt.get('a')!.length, 2);
  await clock.advance(1);
  assert.deepEqual(fleet.startedAt.get('a'), [3000, 10_000, 12_100]);
  await stopWorker(engine);
});

test('restart delays are fuzzed by ±10% by default', async () => {
  const clock = new TestClock();
  const engine = new Engine({ clock, errorDelayMs: 1000 }); // default fuzz
  const fleet = new Fleet(clock);
  for (let i = 0; i < 30; i++) {
    engine.install(`m${i}`, fleet.manifold(`m${i}`, { before: () => Promise.reject(new Error('down')) }));
  }
  await clock.waitPending(30);
  const delays = clock.pendingDelays();
  assert.equal(delays.length, 30);
  for (const d of delays) assert.ok(d >= 900 && d <= 1100, `delay ${d} within ±10% of 1000`);
  assert.ok(new Set(delays).size > 1, 'delays are spread, not all equal');
  await stopWorker(engine);
});

test('BounceError restarts after bounceDelayMs, with no error backoff', async () => {
  const { clock, engine, fleet } = setup();
  engine.install('a', fleet.manifold('a'));
  await settle();
  for (let round = 1; round <= 3; round++) {
    fleet.workers.get('a')!.fail(new BounceError('config changed'));
    await clock.advance(9);
    assert.equal(fleet.attempts.get('a'), round);
    await clock.advance(1);
    assert.equal(fleet.attempts.get('a'), round + 1, `bounce ${round} restarts after 10 ms`);
  }
  await stopWorker(engine);
});

test('UninstallError removes the manifold and its report entry', async () => {
  const { clock, engine, fleet } = setup();
  engine.install('a', fleet.manifold('a'));
  engine.install('b', fleet.manifold('b', { inputs: ['a'] }));
  await clock.advance(100);
  fleet.workers.get('a')!.fail(new UninstallError());
  await clock.advance(600_000);
  assert.deepEqual(Object.keys(engine.report().manifolds), ['b']);
  assert.equal(engine.report().manifolds['b']?.state, 'stopped', 'b waits for an input that is gone');
  assert.equal(fleet.attempts.get('a'), 1);

  engine.install('a', fleet.manifold('a')); // the name is free again
  await clock.advance(100);
  assert.equal(engine.report().manifolds['b']?.state, 'running');
  await stopWorker(engine);
});

test('filter can turn an error into another', async () => {
  const { clock, engine, fleet } = setup();
  const filter = (err: unknown) => (err instanceof Error && err.message === 'stale config' ? new BounceError('reload') : err);
  engine.install('a', fleet.manifold('a', { filter }));
  await settle();
  fleet.workers.get('a')!.fail(new Error('stale config'));
  await clock.advance(10);
  assert.equal(fleet.attempts.get('a'), 2, 'became a BounceError: restarted after bounceDelayMs');
  assert.equal(engine.report().manifolds['a']?.lastError, 'reload');

  fleet.workers.get('a')!.fail(new Error('other'));
  await clock.advance(10);
  assert.equal(fleet.attempts.get('a'), 2, 'other errors are left alone and back off');
  await clock.advance(990);
  assert.equal(fleet.attempts.get('a'), 3);
  await stopWorker(engine);
});

class Fatal extends Error {
  constructor(readonly level: number) {
    super(`fatal level ${level}`);
  }
}

test('an isFatal error stops the whole engine; wait() rejects with the worst error by worstError', async () => {
  const { clock, engine, fleet } = setup({
    isFatal: (err) => err instanceof Fatal,
    worstError: (a, b) => ((a as Fatal).level >= (b as Fatal).level ? a : b),
  });
  engine.install('x', fleet.manifold('x'));
  // y reports a worse fatal error while being stopped: it is weighed too.
  engine.install('y', fleet.manifold('y', { onKill: () => Promise.reject(new Fatal(2)) }));
  engine.install('z', fleet.manifold('z', { inputs: ['x'] }));
  await clock.advance(100);
  assert.equal(fleet.log.length, 3);

  fleet.workers.get('x')!.fail(new Fatal(1));
  await assert.rejects(engine.wait(), (err: unknown) => err instanceof Fatal && err.level === 2);
  assert.equal(engine.report().state, 'stopped');
  for (const name of ['x', 'y', 'z']) assert.equal(fleet.running(name), false, `${name} stopped`);
  assert.throws(() => engine.install('late', fleet.manifold('late')), { code: 'ERR_DEAD' });
});

test('a non-fatal error only restarts its manifold', async () => {
  const { clock, engine, fleet } = setup({ isFatal: (err) => err instanceof Fatal });
  engine.install('x', fleet.manifold('x'));
  await settle();
  fleet.workers.get('x')!.fail(new Error('ordinary'));
  await clock.advance(1000);
  assert.equal(engine.report().state, 'running');
  assert.equal(engine.report().manifolds['x']?.state, 'running');
  await stopWorker(engine);
});

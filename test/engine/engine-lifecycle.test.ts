// Engine start order, bounces through the dependency graph, and shutdown order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noopWorker, stopWorker } from '../../src/core/index.js';
import { BounceError } from '../../src/engine/index.js';
import { settle } from '../../src/testing/index.js';
import { deferred, setup } from './helpers.js';

test('starts a manifold only after all its inputs are running, and its start sees their outputs', async () => {
  const { clock, engine, fleet } = setup();
  let seen: unknown[] = [];
  const bReady = deferred();
  engine.install('c', fleet.manifold('c', { inputs: ['a', 'b'], before: (ctx) => void (seen = [ctx.get('a'), ctx.get('b')]) }));
  engine.install('a', fleet.manifold('a'));
  await clock.advance(1000);
  assert.deepEqual(fleet.log, ['start a'], 'c waits for b, which is not installed yet');

  engine.install('b', fleet.manifold('b', { before: () => bReady.promise }));
  await clock.advance(1000);
  assert.equal(engine.report().manifolds['b']?.state, 'starting');
  assert.deepEqual(fleet.log, ['start a'], 'c waits while b is still starting');

  bReady.resolve();
  await settle();
  assert.deepEqual(fleet.log, ['start a', 'start b']);
  await clock.advance(9);
  assert.deepEqual(fleet.log, ['start a', 'start b'], 'c starts bounceDelayMs after its last input runs');
  await clock.advance(1);
  assert.deepEqual(fleet.log, ['start a', 'start b', 'start c']);
  assert.deepEqual(seen, [
    { name: 'a', generation: 1 },
    { name: 'b', generation: 1 },
  ]);
  await stopWorker(engine);
});

test('when an input restarts, every dependent (transitively) stops before its inputs and starts again bounceDelayMs after its inputs run again', async () => {
  const { clock, engine, fleet } = setup();
  const slowStop = deferred();
  // root <- a <- b <- c, and a <- d; root bounces itself, so a must restart, taking b, c, d with it.
  engine.install('root', fleet.manifold('root'));
  engine.install('a', fleet.manifold('a', { inputs: ['root'] }));
  engine.install('b', fleet.manifold('b', { inputs: ['a'] }));
  engine.install('c', fleet.manifold('c', { inputs: ['b'], onKill: () => (fleet.attempts.get('c') === 1 ? slowStop.promise : undefined) }));
  engine.install('d', fleet.manifold('d', { inputs: ['a'] }));
  await clock.advance(100);
  assert.deepEqual(fleet.log, ['start root', 'start a', 'start b', 'start d', 'start c']);
  fleet.log.length = 0;

  fleet.workers.get('root')!.fail(new BounceError());
  await settle();
  assert.deepEqual(fleet.log, ['stop root', 'stop d'], 'b waits for c to stop, a waits for b');
  assert.equal(engine.report().manifolds['a']?.state, 'running');
  slowStop.resolve();
  await settle();
  assert.deepEqual(fleet.log, ['stop root', 'stop d', 'stop c', 'stop b', 'stop a']);

  fleet.log.length = 0;
  const t0 = clock.now();
  await clock.advance(100);
  assert.deepEqual(fleet.log, ['start root', 'start a', 'start b', 'start d', 'start c']);
  const at = (name: string) => fleet.startedAt.get(name)!.at(-1)! - t0;
  assert.deepEqual([at('root'), at('a'), at('b'), at('d'), at('c')], [10, 20, 30, 30, 40]);
  await stopWorker(engine);
});

test('when an input stops by itself, its dependents stop and start again once it runs again', async () => {
  const { clock, engine, fleet } = setup();
  engine.install('a', fleet.manifold('a'));
  engine.install('b', fleet.manifold('b', { inputs: ['a'] }));
  engine.install('c', fleet.manifold('c', { inputs: ['b'] }));
  await clock.advance(100);
  fleet.log.length = 0;

  fleet.workers.get('a')!.fail(new Error('connection lost'));
  await settle();
  assert.deepEqual(fleet.log, ['stop a', 'stop c', 'stop b']);
  await clock.advance(999);
  assert.deepEqual(fleet.log, ['stop a', 'stop c', 'stop b'], 'nothing starts while a is in its error delay');
  await clock.advance(1);
  assert.deepEqual(fleet.log.slice(3), ['start a']);
  await clock.advance(10);
  assert.deepEqual(fleet.log.slice(3), ['start a', 'start b']);
  await clock.advance(10);
  assert.deepEqual(fleet.log.slice(3), ['start a', 'start b', 'start c']);
  assert.equal(fleet.workers.get('c')!.generation, 2);
  await stopWorker(engine);
});

test('a clean exit is not restarted until an input changes', async () => {
  const { clock, engine, fleet } = setup();
  engine.install('a', fleet.manifold('a'));
  engine.install('b', fleet.manifold('b', { inputs: ['a'] }));
  await clock.advance(100);
  fleet.workers.get('b')!.finish();
  await clock.advance(600_000);
  assert.equal(fleet.attempts.get('b'), 1);
  assert.equal(engine.report().manifolds['b']?.state, 'stopped');

  fleet.workers.get('a')!.fail(new BounceError());
  await clock.advance(100);
  assert.equal(fleet.attempts.get('b'), 2, 'a restarted, so b starts again');
  assert.equal(engine.report().manifolds['b']?.state, 'running');
  await stopWorker(engine);
});

test('killing the engine stops all workers in reverse dependency order, and nothing runs afterwards', async () => {
  const { clock, engine, fleet } = setup();
  const dStop = deferred();
  const gStart = deferred();
  // a <- b, a <- c, (b, c) <- d <- e; f keeps failing (in backoff at kill); g's start is in flight at kill.
  engine.install('a', fleet.manifold('a'));
  engine.install('b', fleet.manifold('b', { inputs: ['a'] }));
  engine.install('c', fleet.manifold('c', { inputs: ['a'] }));
  engine.install('d', fleet.manifold('d', { inputs: ['b', 'c'], onKill: () => dStop.promise }));
  engine.install('e', fleet.manifold('e', { inputs: ['d'] }));
  engine.install('f', fleet.manifold('f', { inputs: ['a'], before: () => Promise.reject(new Error('always fails')) }));
  engine.install('g', fleet.manifold('g', { inputs: ['a'], before: () => gStart.promise }));
  await clock.advance(100);
  assert.deepEqual(new Set(fleet.log), new Set(['start a', 'start b', 'start c', 'start d', 'start e']));
  assert.equal(engine.report().manifolds['f']?.state, 'starting', 'f waits out its error delay');
  fleet.log.length = 0;

  engine.kill();
  let stopped = false;
  const waited = engine.wait().then(() => (stopped = true));
  await settle();
  assert.deepEqual(fleet.log, ['stop e'], 'd is slow to stop, and b, c, a wait for it');
  dStop.resolve();
  await settle();
  assert.deepEqual(fleet.log, ['stop e', 'stop d', 'stop b', 'stop c']);
  assert.equal(stopped, false, 'a waits for g, whose start is still in flight');
  gStart.resolve();
  await waited;
  assert.deepEqual(fleet.log, ['stop e', 'stop d', 'stop b', 'stop c', 'start g', 'stop g', 'stop a']);
  assert.equal(engine.report().state, 'stopped');

  const attemptsBefore = [...fleet.attempts.entries()];
  await clock.advance(600_000);
  assert.deepEqual([...fleet.attempts.entries()], attemptsBefore, 'no start after the engine stopped');
  assert.equal(clock.pending(), 0, 'no timer left behind');
});

test('a start in flight is aborted through ctx.signal when an input stops, and runs again once the input is back', async () => {
  const { clock, engine, fleet } = setup();
  const signals: AbortSignal[] = [];
  engine.install('a', fleet.manifold('a'));
  engine.install(
    'b',
    fleet.manifold('b', {
      inputs: ['a'],
      before: (ctx, attempt) => {
        signals.push(ctx.signal);
        if (attempt > 1) return;
        // The first start hangs until it is told to give up.
        return new Promise<void>((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
        );
      },
    }),
  );
  await clock.advance(100);
  assert.equal(engine.report().manifolds['b']?.state, 'starting');
  assert.equal(signals[0]?.aborted, false);

  fleet.workers.get('a')!.fail(new Error('lost'));
  await settle();
  assert.equal(signals[0]?.aborted, true, 'the start is told it is no longer wanted');
  assert.equal(engine.report().manifolds['b']?.state, 'stopped');
  assert.equal(engine.report().manifolds['b']?.lastError, undefined, 'an abandoned start is not an error');

  await clock.advance(1010);
  assert.equal(engine.report().manifolds['b']?.state, 'running');
  assert.equal(signals.length, 2);
  await stopWorker(engine);
});

test('a chain of 5,000 manifolds starts, bounces and stops without overflowing the stack', async () => {
  const { clock, engine } = setup({ bounceDelayMs: 0 });
  const n = 5000;
  let starts = 0;
  let bounceRoot: (() => void) | undefined;
  engine.install('m0', {
    start: async () => {
      starts++;
      const w = noopWorker();
      const bounced = new Promise<void>((_resolve, reject) => (bounceRoot = () => reject(new BounceError())));
      return { kill: (r) => w.kill(r), wait: () => Promise.race([w.wait(), bounced]) };
    },
  });
  for (let i = 1; i < n; i++) {
    engine.install(`m${i}`, { inputs: [`m${i - 1}`], start: async () => (starts++, noopWorker()) });
  }
  await clock.advance(0);
  assert.equal(starts, n);
  bounceRoot!();
  await clock.advance(0);
  assert.equal(starts, 2 * n, 'every manifold in the chain restarted');
  assert.equal(engine.report().manifolds[`m${n - 1}`]?.startCount, 2);
  engine.kill();
  await engine.wait();
  const states = new Set(Object.values(engine.report().manifolds).map((m) => m.state));
  assert.deepEqual([...states], ['stopped']);
});

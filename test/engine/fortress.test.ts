// Fortress: visits run only while unlocked; lockdown waits for visits in progress.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadError, stopWorker } from '../../src/core/index.js';
import { AbortedError, Engine, Fortress, fortressManifold } from '../../src/engine/index.js';
import { TestClock, settle } from '../../src/testing/index.js';
import { deferred } from './helpers.js';

test('a visit in progress delays lockdown until it finishes', async () => {
  const fortress = new Fortress();
  fortress.guard.unlock();
  const inside = deferred<string>();
  const visit = fortress.guest.visit(() => inside.promise);
  let locked = false;
  const lockdown = fortress.guard.lockdown().then(() => (locked = true));
  await settle();
  assert.equal(locked, false, 'lockdown waits for the visit');
  inside.resolve('done');
  assert.equal(await visit, 'done');
  await lockdown;
  assert.equal(locked, true);
});

test('a visit after lockdown waits until unlock, then runs', async () => {
  const fortress = new Fortress();
  fortress.guard.unlock();
  await fortress.guard.lockdown();
  let ran = false;
  const visit = fortress.guest.visit(() => {
    ran = true;
    return 42;
  });
  await settle();
  assert.equal(ran, false, 'a locked-down fortress holds the visit');
  fortress.guard.unlock();
  assert.equal(await visit, 42);
  assert.equal(ran, true);
});

test('a visit waiting through a lockdown fails only when its own signal aborts', async () => {
  const fortress = new Fortress();
  const ac = new AbortController();
  const visit = fortress.guest.visit(() => 1, ac.signal);
  await fortress.guard.lockdown();
  let settled = false;
  visit.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle();
  assert.equal(settled, false, 'lockdown does not refuse a waiting visit');
  ac.abort(new Error('gave up'));
  await assert.rejects(visit, AbortedError);
});

test('a guest waiting on a locked fortress is released by unlock', async () => {
  const fortress = new Fortress();
  let ran = false;
  const visit = fortress.guest.visit(() => {
    ran = true;
    return 'in';
  });
  await settle();
  assert.equal(ran, false, 'a new fortress starts locked');
  fortress.guard.unlock();
  assert.equal(await visit, 'in');
  assert.equal(ran, true);
});

test('a visit admitted by unlock holds off a lockdown that follows at once', async () => {
  const fortress = new Fortress();
  const inside = deferred();
  const visit = fortress.guest.visit(() => inside.promise);
  fortress.guard.unlock();
  let locked = false;
  const lockdown = fortress.guard.lockdown().then(() => (locked = true));
  await settle();
  assert.equal(locked, false);
  inside.resolve();
  await visit;
  await lockdown;
});

test('a waiting visit rejects with AbortedError when its signal aborts or when the fortress is killed', async () => {
  const fortress = new Fortress();
  const ac = new AbortController();
  const bySignal = fortress.guest.visit(() => 1, ac.signal);
  ac.abort();
  await assert.rejects(bySignal, AbortedError);

  const other = new Fortress();
  const byKill = other.guest.visit(() => 1);
  other.kill();
  await assert.rejects(byKill, AbortedError);
  await other.wait();
  assert.throws(() => other.guard.unlock(), DeadError);
  await assert.rejects(
    other.guest.visit(() => 1),
    AbortedError,
  );
});

test('lockdown rejects with AbortedError if its signal aborts before visits end; a killed fortress waits for visits in progress', async () => {
  const fortress = new Fortress();
  fortress.guard.unlock();
  const inside = deferred();
  const visit = fortress.guest.visit(() => inside.promise);
  const ac = new AbortController();
  const lockdown = fortress.guard.lockdown(ac.signal);
  ac.abort();
  await assert.rejects(lockdown, AbortedError);

  let stopped = false;
  fortress.kill();
  const waited = fortress.wait().then(() => (stopped = true));
  await settle();
  assert.equal(stopped, false);
  inside.resolve();
  await visit;
  await waited;
});

test('the fortress manifold gives dependents a fresh, locked fortress on every start', async () => {
  const clock = new TestClock();
  const engine = new Engine({ clock, fuzz: 0, bounceDelayMs: 10 });
  engine.install('fortress', fortressManifold());
  let fortress: Fortress | undefined;
  engine.install('guard', {
    inputs: ['fortress'],
    start: async (ctx) => {
      fortress = ctx.get<Fortress>('fortress');
      fortress.guard.unlock();
      return { kill() {}, wait: () => Promise.resolve() };
    },
  });
  await clock.advance(100);
  assert.ok(fortress instanceof Fortress);
  assert.equal(await fortress.guest.visit(() => 'ok'), 'ok');
  await stopWorker(engine);
  await assert.rejects(
    fortress.guest.visit(() => 'late'),
    AbortedError,
    'the engine stopping kills the fortress',
  );
});

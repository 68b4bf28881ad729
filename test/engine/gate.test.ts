// Gate: a one-way latch, and its manifold.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noopWorker, stopWorker } from '../../src/core/index.js';
import { AbortedError, BounceError, Engine, Gate, gateManifold } from '../../src/engine/index.js';
import { TestClock, settle } from '../../src/testing/index.js';

test('a gate releases its waiters once unlocked, and stays unlocked', async () => {
  const gate = new Gate();
  assert.equal(gate.isUnlocked(), false);
  let released = 0;
  void gate.unlocked().then(() => released++);
  void gate.unlocked(new AbortController().signal).then(() => released++);
  await settle();
  assert.equal(released, 0);
  gate.unlock();
  await settle();
  assert.equal(released, 2);
  assert.equal(gate.isUnlocked(), true);
  await gate.unlocked();
});

test('waiting on a gate rejects with AbortedError when the signal aborts', async () => {
  const gate = new Gate();
  const ac = new AbortController();
  const waiting = gate.unlocked(ac.signal);
  ac.abort();
  await assert.rejects(waiting, AbortedError);
});

test('the gate manifold shares one gate across restarts, so an unlock is never undone', async () => {
  const clock = new TestClock();
  const engine = new Engine({ clock, fuzz: 0, bounceDelayMs: 10 });
  const gate = new Gate();
  const base = gateManifold(gate);
  let bounceGate: (() => void) | undefined;
  // The gate manifold's own worker, made to bounce on demand so the manifold restarts.
  engine.install('upgraded', {
    ...base,
    start: async (ctx) => {
      const w = await base.start(ctx);
      const bounced = new Promise<void>((_resolve, reject) => (bounceGate = () => reject(new BounceError())));
      return { kill: (r) => w.kill(r), wait: () => Promise.race([w.wait(), bounced]) };
    },
  });
  const seen: Gate[] = [];
  engine.install('user', {
    inputs: ['upgraded'],
    start: async (ctx) => {
      seen.push(ctx.get<Gate>('upgraded'));
      return noopWorker();
    },
  });
  await clock.advance(100);
  assert.equal(seen.length, 1);
  seen[0]!.unlock();
  bounceGate!();
  await clock.advance(100);
  assert.equal(seen.length, 2, 'the gate manifold restarted, and so did its user');
  assert.equal(seen[1], gate);
  assert.equal(seen[1]!.isUnlocked(), true);
  await stopWorker(engine);

  const plain = gateManifold();
  const w = await plain.start({
    get: () => {
      throw new Error('no inputs');
    },
    signal: new AbortController().signal,
  });
  assert.ok(plain.output!(w) instanceof Gate);
  await stopWorker(w);
});

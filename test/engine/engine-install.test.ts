// install() refusals, ctx.get's errors, and report().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlreadyExistsError, DeadError, stopWorker } from '../../src/core/index.js';
import { CycleError, Engine, MissingError, NoOutputError, UndeclaredInputError } from '../../src/engine/index.js';
import { settle } from '../../src/testing/index.js';
import { setup } from './helpers.js';

test('install refuses a cycle with a message naming every manifold in it', async () => {
  const { engine, fleet } = setup();
  engine.install('a', fleet.manifold('a', { inputs: ['c'] }));
  engine.install('b', fleet.manifold('b', { inputs: ['a'] }));
  engine.install('x', fleet.manifold('x', { inputs: ['b'] }));
  assert.throws(
    () => engine.install('c', fleet.manifold('c', { inputs: ['x', 'b'] })),
    (err: unknown) => {
      assert.ok(err instanceof CycleError);
      assert.equal(err.code, 'ERR_DEPENDENCY_CYCLE');
      // Either cycle through c will do (c -> b -> a -> c or c -> x -> b -> a -> c); each step must be a real input.
      const inputs: Record<string, string[]> = { a: ['c'], b: ['a'], x: ['b'], c: ['x', 'b'] };
      assert.equal(err.cycle[0], 'c');
      assert.equal(err.cycle.at(-1), 'c');
      assert.ok(err.cycle.includes('a') && err.cycle.includes('b'));
      for (let i = 0; i + 1 < err.cycle.length; i++)
        assert.ok(inputs[err.cycle[i]!]!.includes(err.cycle[i + 1]!), `${err.cycle[i]} needs ${err.cycle[i + 1]}`);
      assert.ok(err.message.includes(err.cycle.join(' -> ')), err.message);
      return true;
    },
  );
  assert.throws(() => engine.install('self', fleet.manifold('self', { inputs: ['self'] })), /self -> self/);
  assert.deepEqual(Object.keys(engine.report().manifolds).sort(), ['a', 'b', 'x'], 'a refused manifold leaves no trace');
  engine.install('c', fleet.manifold('c')); // the name is still free
  await stopWorker(engine);
});

test('install refuses a name already in use with AlreadyExistsError', async () => {
  const { engine, fleet } = setup();
  engine.install('a', fleet.manifold('a'));
  assert.throws(() => engine.install('a', fleet.manifold('a')), AlreadyExistsError);
  await stopWorker(engine);
});

test('install into a stopped engine is refused with DeadError', async () => {
  const { engine, fleet } = setup();
  await stopWorker(engine);
  assert.throws(() => engine.install('a', fleet.manifold('a')), DeadError);
});

test('install returns at once, without waiting for the start', async () => {
  const { engine } = setup();
  let called = 0;
  engine.install('slow', {
    start: (ctx) => {
      called++;
      return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
    },
  });
  assert.equal(called, 0, 'start is not called inside install');
  await settle();
  assert.equal(called, 1);
  assert.equal(engine.report().manifolds['slow']?.state, 'starting');
  await stopWorker(engine);
  assert.equal(engine.report().manifolds['slow']?.state, 'stopped');
});

test('ctx.get refuses undeclared inputs, inputs not running, and inputs that expose nothing', async () => {
  const { clock, engine, fleet } = setup();
  engine.install('a', fleet.manifold('a'));
  engine.install('silent', fleet.manifold('silent', { output: false }));
  let undeclared: unknown;
  let nothing: unknown;
  engine.install(
    'b',
    fleet.manifold('b', {
      inputs: ['a', 'silent'],
      before: (ctx) => {
        try {
          ctx.get('z');
        } catch (err) {
          undeclared = err;
        }
        try {
          ctx.get('silent');
        } catch (err) {
          nothing = err;
        }
      },
    }),
  );
  await clock.advance(100);
  assert.ok(undeclared instanceof UndeclaredInputError);
  assert.match(undeclared.message, /"z" is not declared/);
  assert.ok(nothing instanceof NoOutputError);
  assert.match(nothing.message, /"silent" exposes nothing/);

  // ctx.get reads the input's current state: once a stops, it is missing.
  const ctx = fleet.contexts.get('b')!;
  assert.deepEqual(ctx.get('a'), { name: 'a', generation: 1 });
  fleet.workers.get('a')!.fail(new Error('gone'));
  await settle();
  assert.throws(() => ctx.get('a'), MissingError);
  await clock.advance(1010);
  assert.deepEqual(ctx.get('a'), { name: 'a', generation: 2 });
  await stopWorker(engine);
});

test("report() lists each manifold with its state, inputs, start count, last error and its worker's own report", async () => {
  const { clock, engine, fleet } = setup();
  engine.install('a', fleet.manifold('a'));
  engine.install('b', fleet.manifold('b', { inputs: ['a'], before: () => Promise.reject(new Error('nope')) }));
  engine.install('c', fleet.manifold('c', { inputs: ['missing'] }));
  await clock.advance(100);
  fleet.workers.get('a')!.fail(new Error('first run failed'));
  await clock.advance(1000);
  assert.deepEqual(engine.report(), {
    state: 'running',
    manifolds: {
      a: { state: 'running', inputs: [], startCount: 2, lastError: 'first run failed', report: { generation: 2 } },
      b: { state: 'starting', inputs: ['a'], startCount: 0, lastError: 'nope' },
      c: { state: 'stopped', inputs: ['missing'], startCount: 0 },
    },
  });
  await stopWorker(engine);
  const after = engine.report();
  assert.equal(after.state, 'stopped');
  assert.deepEqual(
    Object.values(after.manifolds).map((m) => m.state),
    ['stopped', 'stopped', 'stopped'],
  );
});

test('an engine installed in an engine shows its manifolds in the outer report', async () => {
  const { clock, engine, fleet } = setup();
  const inner = setup({ clock }).engine;
  inner.install('leaf', fleet.manifold('leaf'));
  engine.install('inner', { start: async () => inner });
  await clock.advance(100);
  const nested = engine.report().manifolds['inner']?.report as { manifolds: Record<string, { state: string }> };
  assert.equal(nested.manifolds['leaf']?.state, 'running');
  await stopWorker(engine);
  assert.equal(inner.report().state, 'stopped', 'stopping the outer engine stops the inner one');
});

test('options that make no sense are refused when the engine is made', () => {
  assert.throws(() => new Engine({ backoffFactor: 0.5 }), RangeError);
  assert.throws(() => new Engine({ fuzz: 1 }), RangeError);
  assert.throws(() => new Engine({ errorDelayMs: -1 }), RangeError);
  assert.throws(() => new Engine({ maxDelayMs: Infinity }), RangeError);
});

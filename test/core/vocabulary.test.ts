// One vocabulary for every layer: one backoff formula, one duration and size reader, one
// dependency order and cycle finder, one FIFO, one error class per code.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CycleError,
  DependencyCycleError,
  Fifo,
  QueueFullError,
  backoffDelay,
  dependencyOrder,
  findCycles,
  nextFailure,
  parseDuration,
  parseSize,
} from '../../src/index.js';
import * as service from '../../src/service/index.js';
import * as processLayer from '../../src/process/index.js';
import * as fleetUnits from '../../src/fleet/units.js';

describe('backoffDelay and nextFailure', () => {
  const b = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0, resetAfterMs: 5000 };
  test('the n-th retry waits initialMs × factor^(n-1), capped at maxMs', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });
  test('a long run of failures stays a number: maxMs with a delay, 0 without one', () => {
    assert.equal(backoffDelay(b, 5000), 1000);
    assert.equal(backoffDelay({ ...b, initialMs: 0 }, 1025), 0, 'not NaN once factor^n is Infinity');
  });
  test('jitter moves it by up to ±jitter with the given random source', () => {
    const j = { ...b, jitter: 0.1 };
    assert.equal(
      backoffDelay(j, 1, () => 0),
      90,
    );
    assert.equal(
      backoffDelay(j, 1, () => 0.5),
      100,
    );
    assert.ok(Math.abs(backoffDelay(j, 1, () => 0.999999) - 110) < 1e-3);
  });
  test('a run of resetAfterMs or longer starts the count over', () => {
    assert.equal(nextFailure(b, 3, 4999), 4);
    assert.equal(nextFailure(b, 3, 5000), 1);
    assert.equal(nextFailure(b, 0, -1), 1, 'a start that failed ran for no time');
  });
});

describe('parseDuration and parseSize', () => {
  test('durations: ms as a number, or a string in ms, s, m, h or d', () => {
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration(' 2m '), 120_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    for (const bad of ['5 sec', '-1s', '', 'fast', '1w', -1, Infinity, null, {}]) assert.equal(parseDuration(bad), undefined, String(bad));
  });
  test('sizes: bytes as a number, or a string in B, KB, MB, GB (powers of 1024)', () => {
    assert.equal(parseSize(1000), 1000);
    assert.equal(parseSize('512KB'), 512 * 1024);
    assert.equal(parseSize('10MB'), 10 * 2 ** 20);
    assert.equal(parseSize('1.5gb'), 1.5 * 2 ** 30);
    for (const bad of ['10 parsecs', '-1MB', -5, 'MB']) assert.equal(parseSize(bad), undefined, String(bad));
  });
  test('service options and the fleet config read durations with the same function', () => {
    assert.equal(service.parseDuration, parseDuration);
    assert.equal(fleetUnits.parseDuration, parseDuration);
    assert.equal(fleetUnits.parseSize, parseSize);
  });
});

describe('dependencyOrder and findCycles', () => {
  const graph = (edges: Record<string, string[]>) => (n: string) => edges[n] ?? [];

  test('each node comes after what it depends on; free nodes keep the given order', () => {
    const deps = graph({ api: ['db', 'cache'], worker: ['db'] });
    assert.deepEqual(dependencyOrder(['api', 'web', 'worker', 'db', 'cache'], deps), {
      order: ['web', 'db', 'worker', 'cache', 'api'],
      cycles: [],
    });
  });

  test('nodes reached only through deps are included', () => {
    assert.deepEqual(dependencyOrder(['c'], graph({ c: ['a', 'b'], b: ['a'] })).order, ['a', 'b', 'c']);
  });

  test('every cycle is named once, from where the walk entered it; its nodes come last', () => {
    const deps = graph({ a: ['b'], b: ['c'], c: ['a'], d: [], e: ['e'], f: ['g'], g: ['f'] });
    const { order, cycles } = dependencyOrder(['d', 'a', 'b', 'c', 'e', 'f', 'g'], deps);
    assert.deepEqual(cycles, [['a', 'b', 'c'], ['e'], ['f', 'g']]);
    assert.deepEqual(order, ['d', 'a', 'b', 'c', 'e', 'f', 'g']);
    assert.deepEqual(findCycles(['b'], deps), [['b', 'c', 'a']]);
  });

  test('a chain of 100,000 nodes does not overflow the stack', () => {
    const n = 100_000;
    const deps = (i: number) => (i > 0 ? [i - 1] : []);
    const { order, cycles } = dependencyOrder([n - 1], deps);
    assert.equal(order.length, n);
    assert.equal(order[0], 0);
    assert.deepEqual(cycles, []);
  });
});

describe('Fifo', () => {
  test('first in, first out, with peek, unshift, drain and iteration', () => {
    const q = new Fifo<number>();
    assert.equal(q.shift(), undefined);
    for (let i = 0; i < 5; i++) q.push(i);
    assert.equal(q.length, 5);
    assert.equal(q.peek(), 0);
    assert.equal(q.shift(), 0);
    assert.equal(q.shift(), 1);
    q.unshift(10, 11, 12); // more than the two free slots before the head
    assert.deepEqual([...q], [10, 11, 12, 2, 3, 4]);
    q.shift();
    q.unshift(9);
    assert.deepEqual([...q], [9, 11, 12, 2, 3, 4]);
    assert.deepEqual(q.drain(), [9, 11, 12, 2, 3, 4]);
    assert.equal(q.length, 0);
  });

  test('keeps order across compaction of a long queue', () => {
    const q = new Fifo<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 1000; i++) q.push(next++);
      for (let i = 0; i < 900; i++) assert.equal(q.shift(), expected++);
    }
    assert.equal(q.length, next - expected);
    for (const v of q) assert.equal(v, expected++);
  });
});

describe('one error class per code', () => {
  test("the engine's CycleError and the service's DependencyCycleError are one class", async () => {
    assert.equal(CycleError, DependencyCycleError);
    assert.equal(service.DependencyCycleError, DependencyCycleError);
    class A extends service.Task {}
    (A as service.TaskClass).deps = [A];
    assert.throws(
      () => new service.Service({ name: 'svc', tasks: [A], argv: [], env: {} }),
      (err: unknown) =>
        err instanceof CycleError && err.code === 'ERR_DEPENDENCY_CYCLE' && /task dependency cycle: A -> A/.test(err.message),
    );
  });

  test("the pool's QueueFullError and QueueTask's are one class", () => {
    assert.equal(processLayer.QueueFullError, QueueFullError);
    assert.equal(service.QueueFullError, QueueFullError);
    const err = new QueueFullError('full', { cause: 'why' });
    assert.equal(err.code, 'ERR_QUEUE_FULL');
    assert.equal(err.cause, 'why');
  });
});

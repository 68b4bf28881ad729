import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadError } from '../../src/core/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { QueueFullError, QueueTask, Service, TryLater, type QueueContext } from '../../src/service/index.js';
import { track, until } from './helpers.js';

type Exec = (item: number, ctx: QueueContext) => Promise<number>;

function queueService(clock: TestClock, exec: Exec, statics: { workers?: number; maxQueue?: number; drainMs?: number } = {}) {
  class Work extends QueueTask<number, number> {
    static override workers = statics.workers ?? 1;
    static override maxQueue = statics.maxQueue ?? 0;
    static override drainMs = statics.drainMs ?? 30_000;
    override execute(item: number, ctx: QueueContext) {
      return exec(item, ctx);
    }
  }
  const service = new Service({ name: 'svc', tasks: [Work], argv: [], env: {}, clock });
  return { service, task: service.getTask(Work) };
}

test('100 submissions with workers 4 complete with their own results, at most 4 at a time', async () => {
  const clock = new TestClock();
  let active = 0;
  let peak = 0;
  const { service, task } = queueService(
    clock,
    async (n) => {
      active++;
      peak = Math.max(peak, active);
      await clock.sleep(10 + (n % 7));
      active--;
      return n * 2;
    },
    { workers: 4 },
  );
  const results = Array.from({ length: 100 }, (_, i) => task.submit(i));
  await until(() => active === 4, 'four running');
  assert.equal(task.counters.queueDepth, 96);
  const all = Promise.all(results);
  while (task.counters.completed! < 100) await clock.advance(10);
  assert.deepEqual(
    await all,
    Array.from({ length: 100 }, (_, i) => i * 2),
  );
  assert.equal(peak, 4);
  assert.equal(task.timing.count, 100, 'every item is counted in the timing summary');
  assert.equal(task.counters.running, 0);
  assert.equal(task.counters.queueDepth, 0);
  service.kill();
  await service.wait();
});

test('map() keeps input order whatever order items finish in', async () => {
  const clock = new TestClock();
  const { service, task } = queueService(
    clock,
    async (n) => {
      await clock.sleep(100 - n * 10);
      return n + 100;
    },
    { workers: 8 },
  );
  const out = task.map([1, 2, 3, 4, 5]);
  await clock.waitAdvance(100, 5);
  assert.deepEqual(await out, [101, 102, 103, 104, 105]);
  service.kill();
  await service.wait();
});

test('a throwing execute rejects only its own promise', async () => {
  const clock = new TestClock();
  const { service, task } = queueService(
    clock,
    async (n) => {
      if (n === 2) throw new Error('item 2 is bad');
      return n;
    },
    { workers: 2 },
  );
  const results = await Promise.allSettled([1, 2, 3].map((n) => task.submit(n)));
  assert.deepEqual(results[0], { status: 'fulfilled', value: 1 });
  assert.equal(results[1]!.status, 'rejected');
  assert.match(String((results[1] as PromiseRejectedResult).reason), /item 2 is bad/);
  assert.deepEqual(results[2], { status: 'fulfilled', value: 3 });
  assert.equal(task.counters.failed, 1);
  assert.equal(task.counters.completed, 2);
  assert.equal(service.state, 'ALIVE', 'an item error does not fail the service');
  service.kill();
  await service.wait();
});

test('TryLater re-queues an item with a doubling delay, not in a hot loop', async () => {
  const clock = new TestClock();
  const tries: number[] = [];
  const { service, task } = queueService(clock, async (n) => {
    tries.push(clock.now());
    if (tries.length <= 3) throw new TryLater(1000);
    return n;
  });
  const result = track(task.submit(7));
  await until(() => tries.length === 1, 'first try');
  await clock.advance(999);
  assert.equal(tries.length, 1, 'no retry before afterMs');
  await clock.advance(20_000);
  assert.deepEqual(tries, [0, 1000, 3000, 7000]);
  await until(() => result.settled, 'result');
  assert.equal(result.value, 7);
  assert.equal(task.counters.tryLater, 3);
  service.kill();
  await service.wait();
});

test('the retry delay is capped at 60 s', async () => {
  const clock = new TestClock();
  const tries: number[] = [];
  const { service, task } = queueService(clock, async () => {
    tries.push(clock.now());
    throw new TryLater(40_000);
  });
  const result = track(task.submit(1));
  await until(() => tries.length === 1, 'first try');
  await clock.advance(40_000 + 60_000 + 60_000);
  assert.deepEqual(tries, [0, 40_000, 100_000, 160_000]);
  service.kill();
  await clock.waitAdvance(30_000, 2); // the drain waits for the delayed retry until drainMs
  await service.wait();
  assert.ok(result.error instanceof DeadError, 'the waiting item was rejected at the drain deadline');
});

test('stop drains queued items, and new submits reject with DeadError', async () => {
  const clock = new TestClock();
  const { service, task } = queueService(clock, async (n) => {
    await clock.sleep(1000);
    return n;
  });
  const results = [1, 2, 3].map((n) => track(task.submit(n)));
  await until(() => task.counters.running === 1, 'first running');
  service.kill();
  await until(() => task.state === 'stopping', 'queue task stopping');
  await assert.rejects(task.submit(4), DeadError);
  await clock.advance(1000);
  await clock.advance(1000);
  await clock.advance(1000);
  await service.wait();
  assert.deepEqual(
    results.map((r) => r.value),
    [1, 2, 3],
  );
});

test('at the drain deadline the rest reject with DeadError and running items see their signal abort', async () => {
  const clock = new TestClock();
  let sawAbort = 0;
  const { service, task } = queueService(
    clock,
    async (n, { signal }) => {
      try {
        await clock.sleep(10_000, signal);
      } catch (err) {
        sawAbort++;
        throw err;
      }
      return n;
    },
    { workers: 2, drainMs: 15_000 },
  );
  const results = [1, 2, 3, 4, 5].map((n) => track(task.submit(n)));
  await until(() => task.counters.running === 2, 'two running');
  service.kill();
  await clock.advance(10_000); // 1 and 2 finish; 3 and 4 start
  await clock.advance(5_000); // deadline: 3 and 4 aborted, 5 never ran
  await service.wait();
  await until(() => results.every((r) => r.settled), 'every promise settled');
  assert.deepEqual(
    results.map((r) => r.value),
    [1, 2, undefined, undefined, undefined],
  );
  for (const r of results.slice(2)) assert.ok(r.error instanceof DeadError, String(r.error));
  assert.equal(sawAbort, 2);
});

test('a full queue makes submit wait for room, or reject at once with { wait: false }', async () => {
  const clock = new TestClock();
  const { service, task } = queueService(
    clock,
    async (n) => {
      await clock.sleep(100);
      return n;
    },
    { workers: 1, maxQueue: 2 },
  );
  const a = track(task.submit(1)); // running
  const b = track(task.submit(2)); // queued
  const c = track(task.submit(3)); // queued: full now
  await until(() => task.counters.running === 1, 'one running');
  await assert.rejects(task.submit(4, { wait: false }), (err: unknown) => err instanceof QueueFullError && /maxQueue 2/.test(err.message));
  const d = track(task.submit(5)); // waits for room
  assert.equal(task.counters.waiting, 1);
  assert.equal(task.counters.queueDepth, 2);
  await clock.advance(100);
  assert.equal(task.counters.waiting, 0, 'room freed: the waiting submit is queued');
  await clock.advance(300);
  await until(() => [a, b, c, d].every((t) => t.settled), 'all settled');
  assert.deepEqual(
    [a, b, c, d].map((t) => t.value),
    [1, 2, 3, 5],
  );
  assert.equal(task.counters.rejected, 1);
  service.kill();
  await service.wait();
});

test('items submitted before the service started run once it does; a service that fails at init rejects them', async () => {
  const clock = new TestClock();
  const { service, task } = queueService(clock, async (n) => n + 1);
  const early = task.submit(1); // the constructor just returned; nothing is started yet
  assert.equal(await early, 2);
  service.kill();
  await service.wait();

  class Broken extends QueueTask<number, number> {
    override async init() {
      throw new Error('no broker');
    }
    override async execute(n: number) {
      return n;
    }
  }
  const failing = new Service({ name: 'svc', tasks: [Broken], argv: [], env: {}, clock });
  const pending = track(failing.getTask(Broken).submit(1));
  await assert.rejects(failing.wait(), /1 task failed to start: Broken/);
  await until(() => pending.settled, 'submit settled');
  assert.ok(pending.error instanceof DeadError);
});

test('an item whose execute throws TryLater after the queue was cut off rejects with the DeadError, not a retry', async () => {
  const clock = new TestClock();
  const { service, task } = queueService(
    clock,
    async (_n, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      throw new TryLater(1000); // a retry now would leave the promise pending forever
    },
    { drainMs: 500 },
  );
  const r = track(task.submit(1));
  await until(() => task.counters.running === 1, 'running');
  service.kill();
  await clock.waitAdvance(500, 1);
  await service.wait();
  await until(() => r.settled, 'settled');
  assert.ok(r.error instanceof DeadError);
  assert.equal(task.counters.delayed, 0);
});

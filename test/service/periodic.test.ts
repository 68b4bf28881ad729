import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClock } from '../../src/testing/index.js';
import { PeriodicTask, Service, TooManyFailuresError, TryLater, type ExecuteContext } from '../../src/service/index.js';
import { until } from './helpers.js';

function periodicService(clock: TestClock, execute: (ctx: ExecuteContext, task: PeriodicTask) => Promise<void>, argv: string[] = []) {
  class Job extends PeriodicTask {
    static override interval = 10_000;
    override execute(ctx: ExecuteContext) {
      return execute(ctx, this);
    }
  }
  const service = new Service({ name: 'svc', tasks: [Job], argv, env: {}, clock });
  return { service, task: service.getTask(Job) };
}

test('with interval 10 s and a 3 s execute, runs start at 0, 10 and 20 s', async () => {
  const clock = new TestClock();
  const starts: number[] = [];
  const { service, task } = periodicService(clock, async ({ signal }) => {
    starts.push(clock.now());
    await clock.sleep(3000, signal);
  });
  assert.equal(task.interval, 10_000);
  await until(() => starts.length === 1, 'first run');
  await clock.advance(25_000);
  assert.deepEqual(starts, [0, 10_000, 20_000]);
  assert.equal(task.counters.completed, 3, 'the third run (20 s to 23 s) finished by 25 s');
  assert.equal(task.counters.slow, 0);
  assert.equal(task.timing.snapshot().maxMs, 3000);
  service.kill();
  await service.wait();
});

test('a run longer than the interval counts as slow and the next starts at once', async () => {
  const clock = new TestClock();
  const starts: number[] = [];
  const { service, task } = periodicService(clock, async ({ signal }) => {
    starts.push(clock.now());
    await clock.sleep(starts.length === 1 ? 15_000 : 1000, signal);
  });
  await until(() => starts.length === 1, 'first run');
  await clock.advance(26_000);
  assert.deepEqual(starts, [0, 15_000, 25_000]);
  assert.equal(task.counters.slow, 1);
  service.kill();
  await service.wait();
});

test('TryLater(2 s) retries 2 s later instead of after the interval', async () => {
  const clock = new TestClock();
  const starts: number[] = [];
  const { service, task } = periodicService(clock, async () => {
    starts.push(clock.now());
    if (starts.length === 1) throw new TryLater(2000, 'not ready');
  });
  await until(() => starts.length === 1, 'first run');
  await clock.advance(12_500);
  assert.deepEqual(starts, [0, 2000, 12_000]);
  assert.equal(task.counters.tryLater, 1);
  assert.equal(task.counters.failed, 0);
  service.kill();
  await service.wait();
});

test('trigger() runs execute at once and the next run follows an interval later', async () => {
  const clock = new TestClock();
  const starts: number[] = [];
  const { service, task } = periodicService(clock, async () => {
    starts.push(clock.now());
  });
  await until(() => starts.length === 1, 'first run');
  await clock.advance(4000);
  await task.trigger();
  assert.deepEqual(starts, [0, 4000], 'the triggered run happened without the clock moving');
  await clock.advance(10_000);
  assert.deepEqual(starts, [0, 4000, 14_000]);
  service.kill();
  await service.wait();
});

test('errors are counted and logged, and the loop goes on', async () => {
  const clock = new TestClock();
  let n = 0;
  const { service, task } = periodicService(clock, async () => {
    n++;
    if (n <= 2) throw new Error(`bad run ${n}`);
  });
  await until(() => n === 1, 'first run');
  await clock.advance(20_000);
  assert.equal(n, 3);
  assert.equal(task.counters.failed, 2);
  assert.equal(task.counters.completed, 1);
  assert.equal(task.counters.consecutiveFailures, 0);
  assert.equal(service.state, 'ALIVE');
  service.kill();
  await service.wait();
});

test('maxFailures consecutive errors fail the service', async () => {
  const clock = new TestClock();
  let n = 0;
  const { service, task } = periodicService(clock, async () => {
    n++;
    throw new Error(`bad run ${n}`);
  }, ['--job-max-failures=3']);
  const result = service.wait().then(
    () => undefined,
    (e: unknown) => e,
  );
  await until(() => n === 1, 'first run');
  assert.equal(service.state, 'WARNING');
  assert.deepEqual(task.warnings(), ['last 1 run failed: bad run 1']);
  await clock.advance(20_000);
  const err = await result;
  assert.ok(err instanceof TooManyFailuresError, String(err));
  assert.match(err.message, /failed 3 times in a row.*bad run 3/);
  assert.equal(n, 3);
});

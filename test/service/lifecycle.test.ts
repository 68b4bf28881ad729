import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, RestartIntensityError } from '../../src/core/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { DependencyCycleError, Service, SkipTask, Task, TaskInitError, type TaskClass } from '../../src/service/index.js';
import { recordingLogger, until } from './helpers.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Three tasks, C depending on A and B; each hook records itself after a macrotask turn. */
function recordingTasks(events: string[]) {
  class Recorder extends Task {
    static override loopless = true;
    override async init() {
      await tick();
      events.push(`init ${this.name}`);
    }
    override async start() {
      await tick();
      events.push(`start ${this.name}`);
    }
    override async stop() {
      await tick();
      events.push(`stop ${this.name}`);
    }
    override async join() {
      await tick();
      events.push(`join ${this.name}`);
    }
  }
  class A extends Recorder {}
  class B extends Recorder {}
  class C extends Recorder {
    static override deps = [A, B];
  }
  return { A, B, C };
}

test('inits and starts dependencies first, then stops and joins in reverse start order', async () => {
  const events: string[] = [];
  const { A, B, C } = recordingTasks(events);
  const service = new Service({ name: 'svc', tasks: [C], argv: [], env: {} });
  assert.equal(service.getTask(A).name, 'A', 'a dependency that was not listed is added');
  assert.equal(service.getTask(B).name, 'B');
  await until(() => service.state === 'ALIVE', 'service alive');
  service.kill();
  await service.wait();
  assert.deepEqual(events, [
    'init A',
    'init B',
    'init C',
    'start A',
    'start B',
    'start C',
    'stop C',
    'stop B',
    'stop A',
    'join C',
    'join B',
    'join A',
  ]);
});

test('getTask works right after construction and throws NotFoundError for an unknown task', async () => {
  class Known extends Task {
    static override loopless = true;
  }
  class Unknown extends Task {}
  const service = new Service({ name: 'svc', tasks: [Known], argv: [], env: {} });
  assert.ok(service.getTask(Known) instanceof Known);
  assert.throws(() => service.getTask(Unknown), NotFoundError);
  service.kill();
  await service.wait();
});

test('a dependency cycle throws from the constructor, naming every task in it', () => {
  class X extends Task {}
  class Y extends Task {}
  class Z extends Task {}
  (X as TaskClass).deps = [Z];
  (Y as TaskClass).deps = [X];
  (Z as TaskClass).deps = [Y];
  assert.throws(
    () => new Service({ name: 'svc', tasks: [X], argv: [], env: {} }),
    (err: unknown) => err instanceof DependencyCycleError && /X -> Z -> Y -> X/.test(err.message),
  );
});

test('SkipTask drops only that task, with a log line, and its later hooks are not called', async () => {
  const events: string[] = [];
  class Keep extends Task {
    static override loopless = true;
    override async start() {
      events.push('start Keep');
    }
  }
  class Skipped extends Task {
    override async init() {
      throw new SkipTask('not configured');
    }
    override async start() {
      events.push('start Skipped');
    }
    override async stop() {
      events.push('stop Skipped');
    }
    override async run() {
      events.push('run Skipped');
    }
  }
  const logger = recordingLogger();
  const service = new Service({ name: 'svc', tasks: [Keep, Skipped], argv: [], env: {}, logger });
  await until(() => service.state === 'ALIVE', 'service alive');
  assert.throws(() => service.getTask(Skipped), NotFoundError);
  assert.equal(service.getTask(Keep).state, 'running');
  assert.deepEqual(
    service.tasks().map((t) => t.name),
    ['Keep'],
  );
  assert.ok(logger.lines.some((l) => l.level === 'info' && /Skipped skipped: not configured/.test(l.msg ?? '')));
  assert.equal(service.health().healthy, true);
  service.kill();
  await service.wait();
  assert.deepEqual(events, ['start Keep']);
});

test('two failing inits produce one error naming both, and nothing starts', async () => {
  const started: string[] = [];
  class Good extends Task {
    static override loopless = true;
    override async start() {
      started.push(this.name);
    }
  }
  class Bad1 extends Task {
    override async init() {
      throw new Error('no database');
    }
  }
  class Bad2 extends Task {
    override async init() {
      throw new Error('no config');
    }
  }
  const service = new Service({ name: 'svc', tasks: [Bad1, Good, Bad2], argv: [], env: {} });
  await assert.rejects(service.wait(), (err: unknown) => {
    assert.ok(err instanceof TaskInitError);
    assert.match(err.message, /^2 tasks failed to start: Bad1, Bad2/);
    assert.match(err.message, /no database/);
    assert.match(err.message, /no config/);
    return true;
  });
  assert.deepEqual(started, []);
});

test('an unhandled error in a worker loop stops the service and wait() rejects with it', async () => {
  const boom = new Error('loop exploded');
  const stopped: string[] = [];
  class Other extends Task {
    override async run(signal: AbortSignal) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    }
    override async stop() {
      stopped.push('Other');
    }
  }
  class Failing extends Task {
    static override deps = [Other];
    override async run() {
      await tick();
      throw boom;
    }
    override async stop() {
      stopped.push('Failing');
    }
  }
  const service = new Service({ name: 'svc', tasks: [Failing], argv: [], env: {} });
  await assert.rejects(service.wait(), (err) => err === boom);
  assert.deepEqual(stopped, ['Failing', 'Other'], 'every task is stopped on the way down');
  assert.equal(service.getTask(Failing).state, 'failed');
  assert.equal(service.state, 'FAILED');
});

test('workers runs that many concurrent run loops', async () => {
  let active = 0;
  class Many extends Task {
    static override workers = 3;
    override async run(signal: AbortSignal) {
      active++;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      active--;
    }
  }
  const service = new Service({ name: 'svc', tasks: [Many], argv: [], env: {} });
  await until(() => active === 3, 'three loops');
  service.kill();
  await service.wait();
  assert.equal(active, 0);
});

test('an error in start stops the service with that error after stopping what started', async () => {
  const events: string[] = [];
  class First extends Task {
    static override loopless = true;
    override async stop() {
      events.push('stop First');
    }
  }
  class Second extends Task {
    static override deps = [First];
    override async start() {
      throw new Error('cannot bind');
    }
  }
  const service = new Service({ name: 'svc', tasks: [Second], argv: [], env: {} });
  await assert.rejects(service.wait(), /cannot bind/);
  assert.ok(events.includes('stop First'));
});

test('a restartable task is restarted with backoff instead of failing the service', async () => {
  const clock = new TestClock();
  const runsAt: number[] = [];
  class Flaky extends Task {
    static override restartable = true;
    static override restart = { intensity: 10, periodMs: 60_000, backoff: { initialMs: 1000, factor: 2, maxMs: 10_000, jitter: 0 } };
    override async run(signal: AbortSignal) {
      runsAt.push(clock.now());
      if (runsAt.length <= 3) throw new Error(`flake ${runsAt.length}`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    }
  }
  const service = new Service({ name: 'svc', tasks: [Flaky], argv: [], env: {}, clock });
  await until(() => runsAt.length === 1, 'first run');
  await clock.waitAdvance(1000, 1);
  await clock.waitAdvance(2000, 1);
  await clock.waitAdvance(4000, 1);
  await until(() => runsAt.length === 4, 'fourth run');
  assert.deepEqual(runsAt, [0, 1000, 3000, 7000]);
  const task = service.getTask(Flaky);
  assert.equal(service.status().tasks.Flaky!.counters.restarts, 3, 'the service counts restarts in its record of the task');
  assert.equal(task.counters.restarts, undefined, 'nothing outside the task writes into its counters');
  assert.equal(task.state, 'running');
  assert.equal(task.lastError?.message, 'flake 3');
  service.kill();
  await service.wait();
});

test('a restartable task that fails more often than its intensity fails the service', async () => {
  const clock = new TestClock();
  class Broken extends Task {
    static override restartable = true;
    static override restart = { intensity: 2, periodMs: 60_000, backoff: { initialMs: 100, factor: 1, maxMs: 100, jitter: 0 } };
    override async run() {
      throw new Error('always broken');
    }
  }
  const service = new Service({ name: 'svc', tasks: [Broken], argv: [], env: {}, clock });
  const done = service.wait().then(
    () => undefined,
    (e: unknown) => e,
  );
  for (let i = 0; i < 2; i++) await clock.waitAdvance(100, 1);
  const err = await done;
  assert.ok(err instanceof RestartIntensityError, `got ${String(err)}`);
  assert.match(String((err as Error).cause), /always broken/);
});

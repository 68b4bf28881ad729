import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Supervisor, startWorker, type SupervisorEvents } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { TestClock } from '../../src/testing/index.js';
import { Service, Task } from '../../src/service/index.js';

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

test('a Supervisor waits for an Engine child and a Service child that each take 8 s to stop: neither is abandoned', async () => {
  const clock = new TestClock();
  const stopped: string[] = [];
  const engine = new Engine({ clock });
  engine.install('slow', {
    start: async () =>
      startWorker(async (signal) => {
        await untilAborted(signal);
        await clock.sleep(8000);
        stopped.push('engine worker');
      }),
  });
  class SlowStop extends Task {
    static override loopless = true;
    override async stop() {
      await this.clock.sleep(8000);
      stopped.push('service task');
    }
  }
  const service = new Service({ name: 'svc', tasks: [SlowStop], argv: [], env: {}, clock });
  assert.equal(engine.kind, 'tree');
  assert.equal(service.kind, 'tree');
  const sup = new Supervisor({
    clock,
    children: [
      { id: 'engine', start: () => engine },
      { id: 'service', start: () => service },
    ],
  });
  const abandoned: SupervisorEvents['childAbandoned'][] = [];
  sup.on('childAbandoned', (e) => abandoned.push(e));
  await clock.advance(0);
  assert.equal(service.state, 'ALIVE');
  let done = false;
  sup.kill();
  void sup.wait().then(() => (done = true));
  await clock.waitAdvance(5000, 1);
  assert.deepEqual(stopped, [], 'past the 5000 ms a worker gets, the service is still waited for');
  await clock.advance(3000);
  assert.deepEqual(stopped, ['service task']);
  await clock.waitAdvance(8000, 1);
  assert.deepEqual(stopped, ['service task', 'engine worker'], 'the engine stops after the service, in reverse start order');
  await sup.wait();
  assert.equal(done, true);
  assert.deepEqual(abandoned, []);
  await engine.wait();
  await service.wait();
});

test("Service.started() resolves once every task's start ran, so a Supervisor starts the next sibling only then", async () => {
  const clock = new TestClock();
  const log: string[] = [];
  class SlowStart extends Task {
    static override loopless = true;
    override async start() {
      await this.clock.sleep(1000);
      log.push('service started');
    }
  }
  const sup = new Supervisor({
    clock,
    children: [
      { id: 'service', start: () => new Service({ name: 'svc', tasks: [SlowStart], argv: [], env: {}, clock }) },
      { id: 'after', start: () => (log.push('after started'), startWorker(untilAborted)) },
    ],
  });
  await clock.waitAdvance(999, 1);
  assert.deepEqual(log, []);
  assert.deepEqual(
    sup.children().map((c) => c.state),
    ['starting', 'starting'],
  );
  await clock.advance(1);
  assert.deepEqual(log, ['service started', 'after started']);
  await sup.started();
  sup.kill();
  await sup.wait();
});

test('a Service whose task fails to start is a failed start: startChild rejects with its error and adds nothing', async () => {
  const clock = new TestClock();
  const boom = new Error('cannot bind');
  class Broken extends Task {
    static override loopless = true;
    override async start() {
      throw boom;
    }
  }
  const sup = new Supervisor({ clock });
  await assert.rejects(
    sup.startChild({ id: 'service', start: () => new Service({ name: 'svc', tasks: [Broken], argv: [], env: {}, clock }) }),
    (e) => e === boom,
  );
  assert.deepEqual(sup.children(), []);
  const bad = new Service({ name: 'svc', tasks: [Broken], argv: ['--no-such-flag'], env: {}, clock });
  await assert.rejects(bad.started(), /unknown flag --no-such-flag/);
  const killed = new Service({ name: 'svc', tasks: [Broken], argv: [], env: {}, clock });
  killed.kill();
  await assert.rejects(killed.started(), /stopped before it had started/);
  sup.kill();
  await sup.wait();
});

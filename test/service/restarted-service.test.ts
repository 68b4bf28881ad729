// A Service restarted by a Supervisor: built inside start, it restarts as a fresh service and
// shows in the supervisor's report; built once outside start, it is refused with a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReusedWorkerError, Supervisor } from '../../src/index.js';
import { TestClock, checkKilled } from '../../src/testing/index.js';
import { PeriodicTask, Service, type ExecuteContext } from '../../src/service/index.js';
import { until } from './helpers.js';

let failNext = 0;
class Job extends PeriodicTask {
  static override interval = 1000;
  static override options = { maxFailures: { type: 'integer', default: 1, min: 0, help: '' } } as const;
  override async execute(_ctx: ExecuteContext): Promise<void> {
    if (failNext > 0) {
      failNext--;
      throw new Error('job broke');
    }
  }
}

test('a Service made outside start and handed to a supervisor again after it failed is refused with ReusedWorkerError', async () => {
  const clock = new TestClock();
  failNext = 1;
  const outside = new Service({ name: 'svc', tasks: [Job], env: {}, clock });
  const sup = new Supervisor({ clock, intensity: 100, backoff: { initialMs: 0 }, children: [{ id: 'svc', start: () => outside }] });
  const err = await sup.wait().catch((e: unknown) => e);
  assert.ok(err instanceof ReusedWorkerError, `got ${String(err)}`);
  assert.match(err.message, /child svc: start returned the Worker of its previous run.*new Service/);
  await assert.rejects(outside.wait(), /job broke/);
});

test('a Service built inside start restarts as a fresh service; the supervisor report includes its status', async () => {
  const clock = new TestClock();
  failNext = 1;
  const made: Service[] = [];
  const sup = new Supervisor({
    clock,
    intensity: 100,
    backoff: { initialMs: 0 },
    children: [{ id: 'svc', start: () => (made.push(new Service({ name: 'svc', tasks: [Job], env: {}, clock })), made.at(-1)!) }],
  });
  await until(() => made.length === 2 && made[1]!.state === 'ALIVE', 'the second service alive');
  assert.notEqual(made[0], made[1]);
  const child = sup.report().children[0]!;
  assert.equal(child.state, 'running');
  assert.equal(child.restarts, 1);
  assert.equal(child.lastError, 'task Job failed 1 times in a row (maxFailures 1): job broke');
  assert.equal((child.report as { service: string; state: string }).service, 'svc');
  assert.equal((child.report as { state: string }).state, 'ALIVE');
  assert.equal(await checkKilled(sup, 5000), undefined);
});

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DeadError, NotFoundError } from '../../src/core/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { OptionError, PeriodicTask, QueueTask, Service, Task, type ServiceStatus } from '../../src/service/index.js';
import { freePort } from '../support.js';
import { until } from './helpers.js';

/** Stops the service when the test ends, even if an assertion failed first. */
function cleanup(t: TestContext, ...services: Service[]): void {
  t.after(async () => {
    for (const s of services) {
      s.kill();
      await s.wait().catch(() => {});
    }
  });
}

async function get(service: Service, path: string): Promise<{ status: number; type: string; body: string }> {
  const { host, port } = await service.statusAddress();
  assert.equal(host, '127.0.0.1');
  const res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

test('/healthz is 503 with reasons until every task started, then 200', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  class Slow extends Task {
    static override loopless = true;
    override async start() {
      await gate;
    }
  }
  const service = new Service({ name: 'svc', tasks: [Slow], argv: [], env: {}, status: {} });
  cleanup(t, service);
  await until(() => service.getTask(Slow).state === 'starting', 'Slow starting');
  const starting = await get(service, '/healthz');
  assert.equal(starting.status, 503);
  assert.match(starting.body, /service is STARTING/);
  assert.match(starting.body, /Slow is starting/);
  release();
  await until(() => service.state === 'ALIVE', 'alive');
  const alive = await get(service, '/healthz');
  assert.equal(alive.status, 200);
  assert.equal(alive.body, 'ok\n');
  service.kill();
  await service.wait();
});

test('/healthz is 503 naming a restartable task that failed and waits for its restart', async (t) => {
  const clock = new TestClock();
  let runs = 0;
  class Flaky extends Task {
    static override restartable = true;
    static override restart = { backoff: { initialMs: 5000, jitter: 0 } };
    override async run(signal: AbortSignal) {
      runs++;
      if (runs === 1) throw new Error('lost connection');
      await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
    }
  }
  const service = new Service({ name: 'svc', tasks: [Flaky], argv: [], env: {}, clock, status: {} });
  cleanup(t, service);
  await until(() => service.getTask(Flaky).state === 'restarting', 'restarting');
  const res = await get(service, '/healthz');
  assert.equal(res.status, 503);
  assert.match(res.body, /Flaky is restarting: lost connection/);
  await clock.waitAdvance(5000, 1);
  await until(() => runs === 2, 'restarted');
  assert.equal((await get(service, '/healthz')).status, 200);
  service.kill();
  await service.wait();
});

test('/status is JSON with service, state, uptime, each task state and counters, and warnings', async (t) => {
  const clock = new TestClock(1_000_000);
  let n = 0;
  class Job extends PeriodicTask {
    static override interval = 1000;
    override async execute() {
      n++;
      if (n === 2) throw new Error('disk full');
    }
  }
  class Work extends QueueTask<number, number> {
    override async execute(x: number) {
      return x;
    }
  }
  const service = new Service({ name: 'svc', tasks: [Job, Work], argv: [], env: {}, clock, status: { host: '127.0.0.1', port: 0 } });
  cleanup(t, service);
  await until(() => n === 1 && service.state === 'ALIVE', 'first run');
  await service.getTask(Work).submit(5);
  await clock.advance(1500);
  const res = await get(service, '/status');
  assert.equal(res.status, 200);
  assert.match(res.type, /application\/json/);
  const body = JSON.parse(res.body) as ServiceStatus;
  assert.equal(body.service, 'svc');
  assert.equal(body.state, 'WARNING');
  assert.equal(body.uptimeMs, 1500);
  assert.deepEqual(body.warnings, ['Job: last 1 run failed: disk full']);
  assert.equal(body.tasks.Job!.state, 'running');
  assert.equal(body.tasks.Job!.counters.completed, 1);
  assert.equal(body.tasks.Job!.counters.failed, 1);
  assert.equal(body.tasks.Job!.lastError, 'disk full');
  assert.equal(body.tasks.Work!.counters.completed, 1);
  assert.equal(body.tasks.Work!.counters.queueDepth, 0);
  assert.equal(body.tasks.Work!.timing.count, 1);
  assert.equal((await get(service, '/healthz')).status, 200, 'a warning is not unhealthy');
  assert.equal((await get(service, '/nope')).status, 404);
  service.kill();
  await service.wait();
});

test('/metrics serves task counters in Prometheus text from a per-service registry', async (t) => {
  class Work extends QueueTask<number, number> {
    override async execute(x: number) {
      if (x < 0) throw new Error('negative');
      return x;
    }
  }
  const a = new Service({ name: 'alpha', tasks: [Work], argv: [], env: {}, status: {} });
  cleanup(t, a);
  const b = new Service({ name: 'beta', tasks: [Work], argv: [], env: {}, status: {} });
  cleanup(t, b);
  await a.getTask(Work).map([1, 2, 3]);
  await assert.rejects(a.getTask(Work).submit(-1), /negative/);
  const res = await get(a, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.type, /^text\/plain/);
  assert.match(res.body, /# TYPE bosun_task_completed_total counter/);
  assert.match(res.body, /bosun_task_completed_total\{task="Work",service="alpha"\} 3/);
  assert.match(res.body, /bosun_task_failed_total\{task="Work",service="alpha"\} 1/);
  assert.match(res.body, /bosun_task_queue_depth\{task="Work",service="alpha"\} 0/);
  assert.match(res.body, /bosun_task_duration_seconds\{task="Work",quantile="0.5",service="alpha"\}/);
  assert.match(res.body, /bosun_service_healthy\{service="alpha"\} 1/);
  const other = await get(b, '/metrics');
  assert.match(other.body, /bosun_task_completed_total\{task="Work",service="beta"\} 0/);
  for (const s of [a, b]) {
    s.kill();
    await s.wait();
  }
});

test('statusAddress rejects when the status server is off, and the server closes when the service stops', async (t) => {
  class Idle extends Task {
    static override loopless = true;
  }
  const off = new Service({ name: 'svc', tasks: [Idle], argv: [], env: {} });
  cleanup(t, off);
  await assert.rejects(off.statusAddress(), NotFoundError);
  off.kill();
  await off.wait();

  const on = new Service({ name: 'svc', tasks: [Idle], argv: [], env: {}, status: {} });
  cleanup(t, on);
  const { port } = await on.statusAddress();
  on.kill();
  await on.wait();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) }));
});

test('a status server that never listened rejects statusAddress with the error that stopped the service', async () => {
  class Idle extends Task {
    static override loopless = true;
  }
  const bad = new Service({ name: 'svc', tasks: [Idle], argv: ['--idle-nope', '1'], env: {}, status: {} });
  const [waited, address] = await Promise.all([bad.wait().catch((e: unknown) => e), bad.statusAddress().catch((e: unknown) => e)]);
  assert.ok(waited instanceof OptionError, `wait: ${String(waited)}`);
  assert.equal(address, waited, 'statusAddress rejects with the same OptionError, not "closed before it listened"');
  assert.match((address as Error).message, /--idle-nope/);

  const help = new Service({ name: 'svc', tasks: [Idle], argv: ['--help'], env: {}, status: {} });
  await help.wait();
  await assert.rejects(help.statusAddress(), (e: unknown) => e instanceof DeadError && /--help/.test(e.message));

  const port = await freePort();
  const holder = new Service({ name: 'holder', tasks: [Idle], argv: [], env: {}, status: { port } });
  await holder.statusAddress();
  const clash = new Service({ name: 'clash', tasks: [Idle], argv: [], env: {}, status: { port } });
  const bind = await clash.statusAddress().catch((e: unknown) => e);
  assert.equal((bind as NodeJS.ErrnoException).code, 'EADDRINUSE');
  await assert.rejects(clash.wait(), /EADDRINUSE/);
  holder.kill();
  await holder.wait();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClock } from '../../src/testing/index.js';
import { CronTask, PollerTask, Service, type ExecuteContext } from '../../src/service/index.js';
import { until } from './helpers.js';

test('PollerTask fetches every interval and calls onValueChanged only when the value changes', async () => {
  const clock = new TestClock();
  const values = [{ v: 1 }, { v: 1 }, { v: 2 }, { v: 2 }, { v: 3 }];
  const changes: Array<[unknown, unknown]> = [];
  let fetches = 0;
  class Config extends PollerTask<{ v: number }> {
    static override interval = 1000;
    override async fetch() {
      return values[Math.min(fetches++, values.length - 1)]!;
    }
    override onValueChanged(old: { v: number } | undefined, value: { v: number }) {
      changes.push([old, value]);
    }
  }
  const service = new Service({ name: 'svc', tasks: [Config], argv: [], env: {}, clock });
  await until(() => fetches === 1, 'first fetch');
  await clock.advance(4000);
  assert.equal(fetches, 5);
  assert.deepEqual(changes, [
    [undefined, { v: 1 }],
    [{ v: 1 }, { v: 2 }],
    [{ v: 2 }, { v: 3 }],
  ]);
  const task = service.getTask(Config);
  assert.deepEqual(task.value, { v: 3 });
  assert.equal(task.counters.changes, 3);
  service.kill();
  await service.wait();
});

test('CronTask runs at the times its expression names, in its time zone, on the service clock', async () => {
  const start = Date.UTC(2024, 0, 1, 1, 0, 0); // 01:00 UTC is 10:00 in Tokyo
  const runs = new Map<string, string[]>();
  const make = (tz: string) => {
    class Daily extends CronTask {
      static override schedule = '0 9 * * *';
      static override timezone = tz;
      override async execute(ctx: ExecuteContext) {
        const list = runs.get(tz) ?? [];
        list.push(`${new Date(this.clock.now()).toISOString()} for ${ctx.scheduledAt?.toISOString()}`);
        runs.set(tz, list);
      }
    }
    return Daily;
  };
  for (const tz of ['Asia/Tokyo', 'UTC']) {
    const clock = new TestClock(start);
    const service = new Service({ name: 'svc', tasks: [make(tz)], argv: [], env: {}, clock });
    await clock.waitPending(1);
    await clock.advance(2 * 24 * 3600_000);
    service.kill();
    await service.wait();
  }
  assert.deepEqual(runs.get('Asia/Tokyo'), [
    '2024-01-02T00:00:00.000Z for 2024-01-02T00:00:00.000Z',
    '2024-01-03T00:00:00.000Z for 2024-01-03T00:00:00.000Z',
  ]);
  assert.deepEqual(runs.get('UTC'), [
    '2024-01-01T09:00:00.000Z for 2024-01-01T09:00:00.000Z',
    '2024-01-02T09:00:00.000Z for 2024-01-02T09:00:00.000Z',
  ]);
});

test('CronTask does not replay runs missed while a run overran', async () => {
  const clock = new TestClock(Date.UTC(2024, 0, 1, 0, 0, 30));
  const starts: string[] = [];
  class EveryMinute extends CronTask {
    static override schedule = '* * * * *';
    static override timezone = 'UTC';
    override async execute({ signal }: ExecuteContext) {
      starts.push(new Date(this.clock.now()).toISOString().slice(11, 19));
      if (starts.length === 1) await this.clock.sleep(210_000, signal); // until 00:04:30
    }
  }
  const service = new Service({ name: 'svc', tasks: [EveryMinute], argv: [], env: {}, clock });
  await clock.waitPending(1);
  await clock.advance(6 * 60_000);
  assert.deepEqual(starts, ['00:01:00', '00:05:00', '00:06:00']);
  service.kill();
  await service.wait();
});

test('a bad cron expression fails the service with a message naming the flag', async () => {
  class Bad extends CronTask {
    override async execute() {}
  }
  const service = new Service({ name: 'svc', tasks: [Bad], argv: ['--bad-schedule', 'every tuesday'], env: {} });
  await assert.rejects(service.wait(), /invalid cron schedule "every tuesday" \(--bad-schedule/);
});

test('a CronTask without a schedule fails at start naming the flag and variable', async () => {
  class NoSchedule extends CronTask {
    override async execute() {}
  }
  const service = new Service({ name: 'svc', tasks: [NoSchedule], argv: [], env: {} });
  await assert.rejects(service.wait(), /--no-schedule-schedule is required \(or set SVC_NO_SCHEDULE_SCHEDULE\)/);
});

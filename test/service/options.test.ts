import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError, PeriodicTask, Service, Task, type OptionSpecs } from '../../src/service/index.js';

class FetchTask extends Task {
  static override loopless = true;
  static override options: OptionSpecs = {
    url: { type: 'string', default: 'http://default', help: 'where to fetch from' },
    retries: { type: 'integer', default: 3, help: 'attempts per fetch' },
    verbose: { type: 'boolean', default: false, help: 'log every fetch' },
  };
}

class StoreTask extends Task {
  static override loopless = true;
  static override prefix = 'db';
  static override options: OptionSpecs = { poolSize: { type: 'number', default: 10, help: 'connections' } };
}

async function optionsOf(argv: string[], env: Record<string, string> = {}) {
  const service = new Service({ name: 'svc', tasks: [FetchTask, StoreTask], argv, env });
  const values = { fetch: { ...service.getTask(FetchTask).options }, store: { ...service.getTask(StoreTask).options } };
  service.kill();
  await service.wait();
  return values;
}

test('options take flags over environment variables over defaults', async () => {
  const defaults = await optionsOf([]);
  assert.deepEqual(defaults.fetch, { url: 'http://default', retries: 3, verbose: false });

  const fromEnv = await optionsOf([], { SVC_FETCH_TASK_URL: 'http://env', SVC_FETCH_TASK_RETRIES: '5' });
  assert.equal(fromEnv.fetch.url, 'http://env');
  assert.equal(fromEnv.fetch.retries, 5);

  const both = await optionsOf(['--fetch-task-url', 'http://flag', '--fetch-task-retries=7', '--fetch-task-verbose'], {
    SVC_FETCH_TASK_URL: 'http://env',
    SVC_FETCH_TASK_RETRIES: '5',
  });
  assert.deepEqual(both.fetch, { url: 'http://flag', retries: 7, verbose: true });
});

test('a static prefix replaces the task name in flags and variables', async () => {
  assert.equal((await optionsOf(['--db-pool-size=4'])).store.poolSize, 4);
  assert.equal((await optionsOf([], { SVC_DB_POOL_SIZE: '6' })).store.poolSize, 6);
});

test('a bad number makes wait() reject with a message naming the flag', async () => {
  const service = new Service({ name: 'svc', tasks: [FetchTask], argv: ['--fetch-task-retries', 'lots'], env: {} });
  await assert.rejects(service.wait(), (err: unknown) => {
    assert.ok(err instanceof OptionError);
    assert.match(err.message, /--fetch-task-retries/);
    assert.match(err.message, /"lots"/);
    return true;
  });
});

test('a bad value from the environment names the variable', async () => {
  const service = new Service({ name: 'svc', tasks: [FetchTask], argv: [], env: { SVC_FETCH_TASK_RETRIES: '2.5' } });
  await assert.rejects(service.wait(), /SVC_FETCH_TASK_RETRIES.*integer/);
});

test('an unknown flag is an error', async () => {
  const service = new Service({ name: 'svc', tasks: [FetchTask], argv: ['--fetch-task-nope=1'], env: {} });
  await assert.rejects(service.wait(), /unknown flag --fetch-task-nope/);
});

test('--help lists every option grouped by task, and the service runs nothing', async () => {
  let started = false;
  class Poll extends PeriodicTask {
    static override interval = 5000;
    override async execute() {
      started = true;
    }
  }
  const service = new Service({ name: 'svc', tasks: [FetchTask, Poll], argv: ['--help'], env: {} });
  assert.equal(service.helpRequested, true);
  await service.wait();
  const help = service.helpText();
  const fetchAt = help.indexOf('FetchTask:');
  const pollAt = help.indexOf('Poll:');
  assert.ok(fetchAt !== -1 && pollAt > fetchAt, help);
  const fetchSection = help.slice(fetchAt, pollAt);
  assert.match(fetchSection, /--fetch-task-url <string>\s+where to fetch from \(default: http:\/\/default\)/);
  assert.match(fetchSection, /env SVC_FETCH_TASK_RETRIES/);
  assert.match(help.slice(pollAt), /--poll-interval <duration>.*\(default: 5s\)/);
  assert.match(help.slice(pollAt), /--poll-max-failures <integer>/);
  assert.match(help, /--shutdown-timeout <duration>/);
  assert.equal(started, false);
});

test('durations accept plain ms and units', async () => {
  class Tick extends PeriodicTask {
    override async execute() {}
  }
  for (const [raw, ms] of [
    ['250', 250],
    ['1.5s', 1500],
    ['2m', 120_000],
  ] as const) {
    const service = new Service({ name: 'svc', tasks: [Tick], argv: [`--tick-interval=${raw}`], env: {} });
    assert.equal(service.getTask(Tick).interval, ms);
    service.kill();
    await service.wait();
  }
});

test("an embedded Service reads only the argv it is given: the host program's own flags are not its business", async () => {
  const saved = process.argv;
  process.argv = [...saved.slice(0, 2), '--verbose', '--fetch-task-url', 'http://host-flag'];
  try {
    const embedded = new Service({ name: 'svc', tasks: [FetchTask], env: {} });
    assert.equal(embedded.getTask(FetchTask).options.url, 'http://default', 'no argv given: no flags read');
    assert.deepEqual(embedded.args, []);
    embedded.kill();
    await embedded.wait(); // resolves: the host's --verbose is no unknown flag of the service

    const given = new Service({ name: 'svc', tasks: [FetchTask], argv: ['--fetch-task-url', 'http://given'], env: {} });
    assert.equal(given.getTask(FetchTask).options.url, 'http://given');
    given.kill();
    await given.wait();

    const fromEnv = new Service({ name: 'svc', tasks: [FetchTask], env: { SVC_FETCH_TASK_URL: 'http://env' } });
    assert.equal(fromEnv.getTask(FetchTask).options.url, 'http://env', 'the environment is still read');
    fromEnv.kill();
    await fromEnv.wait();
  } finally {
    process.argv = saved;
  }
});

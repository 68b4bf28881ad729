// A Supervisor restarting a crashing monitorProcess backs off as configured and gives up past
// its intensity. The supervisor's timers run on a TestClock; the children are real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestartIntensityError, Supervisor } from '../../src/core/index.js';
import { TestClock } from '../../src/testing/index.js';
import { monitorProcess, ProcessExitError } from '../../src/process/index.js';
import { node, procFixture, until } from './helpers.js';

const crashing = () => monitorProcess({ command: node, args: [procFixture, 'exit', '1', '1'] });

test('a Supervisor restarts a crashing monitorProcess after 1000, 2000, 4000, 4000 ms of backoff', async () => {
  const clock = new TestClock();
  const starts: number[] = [];
  const delays: number[] = [];
  const errors: unknown[] = [];
  const sup = new Supervisor({
    clock,
    intensity: Infinity,
    backoff: { initialMs: 1000, factor: 2, maxMs: 4000, jitter: 0 },
    children: [{ id: 'crasher', start: () => (starts.push(clock.now()), crashing()) }],
  });
  sup.on('childRestarting', (e) => {
    delays.push(e.delayMs);
    errors.push(e.error);
  });
  for (const [i, delay] of [1000, 2000, 4000, 4000].entries()) {
    await until(() => delays.length === i + 1, `restart ${i + 1} decided`);
    assert.equal(delays[i], delay);
    await clock.waitAdvance(delay - 1, 1);
    assert.equal(starts.length, i + 1, `restart ${i + 1} came before its ${delay} ms backoff`);
    await clock.advance(1);
    await until(() => starts.length === i + 2, `restart ${i + 1} started`);
  }
  assert.deepEqual(starts, [0, 1000, 3000, 7000, 11000]);
  for (const e of errors) assert.ok(e instanceof ProcessExitError && e.exitCode === 1 && e.tail.includes('line 1'));
  sup.kill();
  await sup.wait();
});

test('past its intensity the Supervisor gives up with RestartIntensityError caused by ProcessExitError', async () => {
  const sup = new Supervisor({
    intensity: 2,
    periodMs: 60_000,
    backoff: { initialMs: 0 },
    children: [{ id: 'crasher', start: () => crashing() }],
  });
  const err = await sup.wait().then(
    () => assert.fail('expected the supervisor to give up'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RestartIntensityError, `got ${String(err)}`);
  assert.ok(err.cause instanceof ProcessExitError);
});

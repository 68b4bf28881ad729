// What a monitor does with output: the log gets the bytes exactly as printed, a line without a
// newline shows after a short delay, and silence is judged only after pending output was read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestClock } from '../../src/testing/index.js';
import { monitorProcess } from '../../src/process/index.js';
import { until, withTempDir } from './helpers.js';

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('output', fn);

test('1 MiB of random bytes reaches the log file byte for byte, through anonymous and named pipes', async () => {
  await withDir(async (dir) => {
    const data = randomBytes(1 << 20);
    const input = join(dir, 'random.bin');
    await writeFile(input, data);
    for (const outputPipes of [undefined, { stdout: join(dir, 'o.fifo'), stderr: join(dir, 'e.fifo') }]) {
      const logFile = join(dir, outputPipes === undefined ? 'anon.log' : 'fifo.log');
      const m = monitorProcess({ command: 'cat', args: [input], logFile, outputPipes });
      await m.wait();
      const logged = await readFile(logFile);
      assert.equal(logged.length, data.length, `${logFile}: ${logged.length} bytes logged for ${data.length} printed`);
      assert.ok(logged.equals(data), `${logFile} differs from what was printed`);
    }
  });
});

test('a line without a newline reaches the log at once and tail() and ready() after partialLineMs', async () => {
  await withDir(async (dir) => {
    const clock = new TestClock();
    const logFile = join(dir, 'prompt.log');
    const m = monitorProcess({
      command: 'sh',
      args: ['-c', 'printf "password: "; exec sleep 30'],
      logFile,
      clock,
      ready: { log: 'password:' },
    });
    let ready = false;
    void m.ready().then(() => (ready = true));
    await until(() => existsSync(logFile) && readFileSync(logFile, 'utf8') === 'password: ', 'the prompt in the log');
    await clock.advance(199);
    assert.deepEqual(m.tail(), [], 'shown before its delay');
    assert.equal(ready, false);
    await clock.advance(1);
    assert.deepEqual(m.tail(), ['password: ']);
    await until(() => ready, 'ready() on the prompt');
    m.kill();
    await m.wait();
    assert.deepEqual(m.tail(), ['password: '], 'the flushed prompt is not shown twice');
  });
});

test('a child printing every 100 ms outlives a 1 s activity timeout across a 2.5 s stall of the monitor', async () => {
  const m = monitorProcess({
    command: 'sh',
    args: ['-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.1; done'],
    activityTimeoutMs: 1000,
    killGraceMs: 1000,
  });
  let settled: unknown = 'pending';
  m.wait().then(
    () => (settled = 'resolved'),
    (e: unknown) => (settled = e),
  );
  await until(() => m.tail().includes('tick 3'), 'four ticks');
  // The event loop is blocked as by a SIGSTOP or a huge message: the activity timer becomes due
  // while the child's output waits unread in the pipe.
  const end = Date.now() + 2500;
  while (Date.now() < end) {
    // busy: no I/O is read, no timer fires
  }
  const lastTick = () => Number(m.tail().at(-1)?.slice(5) ?? -1);
  const beforeStall = lastTick();
  await until(() => lastTick() > beforeStall, 'the output printed during the stall');
  // A killed child prints no more: three further ticks mean it was judged alive.
  const afterStall = lastTick();
  await until(() => lastTick() >= afterStall + 3, 'three ticks after the stall', 5000);
  assert.equal(settled, 'pending', `the child was killed: ${String(settled)}`);
  assert.equal(m.exitInfo, undefined);
  m.kill();
  await m.wait();
});

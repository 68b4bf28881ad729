// monitorProcess with real child processes: exit mapping, activity timeout, two-stage kill,
// tree kill, heartbeats, readiness. Timers are TestClock-driven where the test allows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimeoutError } from '../../src/core/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { monitorProcess, NotReadyError, ProcessExitError, ProcessSpawnError } from '../../src/process/index.js';
import { gone, node, procFixture, until } from './helpers.js';
import { freePort } from '../support.js';

const proc = (...args: string[]) => [procFixture, ...args];

test('exit 0 resolves and exit 3 rejects with ProcessExitError carrying code 3 and the tail', async () => {
  const ok = monitorProcess({ command: node, args: proc('exit', '0', '2') });
  await ok.wait();
  assert.deepEqual(ok.exitInfo, { code: 0, signal: null });

  const bad = monitorProcess({ command: node, args: proc('exit', '3', '5'), tailLines: 3 });
  const err = await bad.wait().then(
    () => assert.fail('expected rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProcessExitError);
  assert.equal(err.code, 'ERR_PROCESS_EXIT');
  assert.equal(err.exitCode, 3);
  assert.equal(err.signal, null);
  assert.deepEqual(err.tail, ['line 3', 'line 4', 'line 5']);
  assert.deepEqual(bad.tail(), ['line 3', 'line 4', 'line 5']);
  assert.ok(bad.pid !== undefined && gone(bad.pid));
});

test('a command that cannot start rejects with ProcessSpawnError and ready() rejects too', async () => {
  const m = monitorProcess({ command: '/nonexistent/bosun-no-such-binary' });
  await assert.rejects(m.wait(), (e: unknown) => e instanceof ProcessSpawnError && e.code === 'ERR_PROCESS_SPAWN');
  await assert.rejects(m.ready(), ProcessSpawnError);
  assert.equal(m.pid, undefined);
});

test('a child printing every 50 ms outlives a 200 ms activity timeout; a silent one is killed at about 200 ms', async () => {
  // sh starts in a millisecond, so the timer (which starts at spawn) measures the child, not node's boot on a busy machine.
  const chatty = monitorProcess({
    command: 'sh',
    args: ['-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.05; done'],
    activityTimeoutMs: 200,
    killGraceMs: 1000,
  });
  const silent = monitorProcess({ command: 'sh', args: ['-c', 'echo started; exec sleep 30'], activityTimeoutMs: 200, killGraceMs: 1000 });
  const started = Date.now();
  const silentResult = silent.wait().then(
    () => assert.fail('silent child should time out'),
    (e: unknown) => ({ e, ms: Date.now() - started }),
  );
  // 12 ticks of 50 ms is well past the 200 ms timeout.
  await until(() => chatty.tail().includes('tick 12'), 'twelve ticks');
  assert.equal(chatty.exitInfo, undefined, 'the chatty child is still running');
  const { e, ms } = await silentResult;
  assert.ok(e instanceof TimeoutError, `expected TimeoutError, got ${String(e)}`);
  assert.equal((e as TimeoutError).code, 'ERR_TIMEOUT');
  assert.deepEqual((e as unknown as { tail: string[] }).tail, ['started']);
  assert.ok(ms >= 190, `killed after ${ms} ms, before the timeout`);
  assert.ok(ms < 5000, `killed only after ${ms} ms`);
  chatty.kill();
  await chatty.wait();
});

test('a child that traps SIGTERM is SIGKILLed after killGraceMs; one that exits on SIGTERM is not', async () => {
  const stubborn = monitorProcess({ command: node, args: proc('trap'), killGraceMs: 300, ready: { log: 'trapping' } });
  const polite = monitorProcess({ command: node, args: proc('trap', 'exit'), killGraceMs: 30_000, ready: { log: 'trapping' } });
  await Promise.all([stubborn.ready(), polite.ready()]);

  let t = Date.now();
  stubborn.kill();
  await stubborn.wait(); // a kill is a clean stop, whatever the exit status
  const stubbornMs = Date.now() - t;
  assert.deepEqual(stubborn.exitInfo, { code: null, signal: 'SIGKILL' });
  assert.ok(stubbornMs >= 280, `SIGKILL came after ${stubbornMs} ms, before the grace`);
  await until(() => stubborn.tail().includes('got SIGTERM'), 'SIGTERM seen first', 1000);

  t = Date.now();
  polite.kill();
  await polite.wait();
  assert.deepEqual(polite.exitInfo, { code: 0, signal: null });
  assert.ok(Date.now() - t < 10_000, 'the polite child was not made to wait for the grace');
  assert.ok(polite.tail().includes('got SIGTERM'));
});

test('kill() leaves no grandchild or great-grandchild in another process group alive', async () => {
  const m = monitorProcess({ command: node, args: proc('tree'), killGraceMs: 300 });
  const pids = () =>
    m
      .tail()
      .filter((l) => l.startsWith('pid '))
      .map((l) => Number(l.split(' ')[2]));
  await until(() => pids().length === 3, 'three pids printed');
  const [child, grandchild, great] = pids() as [number, number, number];
  assert.equal(child, m.pid);
  for (const pid of [child, grandchild, great]) assert.ok(!gone(pid), `pid ${pid} runs before the kill`);
  m.kill();
  await m.wait();
  for (const pid of [child, grandchild, great]) assert.ok(gone(pid), `pid ${pid} survived the kill`);
});

test('heartbeats run at spawn and every period with the current tail, never overlapping', async () => {
  const clock = new TestClock();
  const beats: { tail: string[]; uptimeMs: number; pid: number }[] = [];
  let running = 0;
  let maxRunning = 0;
  let release: (() => void) | undefined;
  const m = monitorProcess({
    command: node,
    args: proc('silent'),
    clock,
    heartbeatMs: 1000,
    onHeartbeat: async (b) => {
      beats.push(b);
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (beats.length === 2) await new Promise<void>((r) => (release = r)); // the second one is slow
      running--;
    },
  });
  await until(() => beats.length === 1, 'heartbeat at spawn');
  assert.equal(beats[0]!.uptimeMs, 0);
  assert.equal(beats[0]!.pid, m.pid);
  await until(() => m.tail().includes('started'), 'first line');
  await clock.waitAdvance(1000, 1);
  assert.equal(beats.length, 2);
  assert.equal(beats[1]!.uptimeMs, 1000);
  assert.deepEqual(beats[1]!.tail, ['started']);
  // While the second heartbeat hangs, no time passing starts a third.
  await clock.advance(5000);
  assert.equal(beats.length, 2);
  release!();
  // The next one comes a full period after the slow one ended, not at once.
  await clock.waitAdvance(999, 1);
  assert.equal(beats.length, 2);
  await clock.advance(1);
  assert.equal(beats.length, 3);
  assert.equal(maxRunning, 1);
  m.kill();
  await m.wait();
  const count = beats.length;
  await clock.advance(10_000);
  assert.equal(beats.length, count, 'no heartbeat after wait() settled');
});

test('a throwing heartbeat fails the worker and kills the child', async () => {
  const clock = new TestClock();
  const boom = new Error('heartbeat failed');
  let calls = 0;
  const m = monitorProcess({
    command: node,
    args: proc('silent'),
    clock,
    heartbeatMs: 1000,
    onHeartbeat: () => {
      if (++calls === 2) throw boom;
    },
  });
  await until(() => calls === 1 && m.tail().includes('started'), 'first heartbeat');
  await clock.waitAdvance(1000, 1);
  await assert.rejects(m.wait(), (e) => e === boom);
  assert.ok(gone(m.pid!));
  assert.deepEqual(m.exitInfo, { code: null, signal: 'SIGTERM' });
});

test('ready() follows a log line, an IPC message, an HTTP URL; and rejects when the process ends first', async () => {
  const byLog = monitorProcess({ command: node, args: proc('trap', 'exit'), ready: { log: /^trap+ing$/ } });
  await byLog.ready();
  assert.ok(byLog.tail().includes('trapping'));

  const byIpc = monitorProcess({ command: node, args: proc('ipc-ready'), ready: { message: true } });
  await byIpc.ready();
  assert.ok(byIpc.tail().includes('booting'));

  const port = await freePort();
  const byHttp = monitorProcess({
    command: node,
    args: proc('http', String(port), '150'),
    ready: { http: `http://127.0.0.1:${port}/`, intervalMs: 20 },
  });
  await byHttp.ready();
  await until(() => byHttp.tail().includes('listening'), 'listening line', 2000);

  const early = monitorProcess({ command: node, args: proc('exit', '0', '1'), ready: { log: 'never printed' } });
  await assert.rejects(early.ready(), NotReadyError);
  await early.wait();

  await Promise.all(
    [byLog, byIpc, byHttp].map(async (m) => {
      m.kill();
      await m.wait();
    }),
  );
});

test('ready timeoutMs fails the worker with a TimeoutError', async () => {
  const clock = new TestClock();
  const m = monitorProcess({ command: node, args: proc('silent'), clock, ready: { log: 'never', timeoutMs: 500 } });
  await until(() => m.tail().includes('started'), 'first line');
  await clock.advance(500);
  await assert.rejects(m.ready(), TimeoutError);
  await assert.rejects(m.wait(), TimeoutError);
});

test('onLine (option and method) sees every stdout and stderr line with its stream; a logger gets them too', async () => {
  const seen: string[] = [];
  const later: string[] = [];
  const logged: unknown[] = [];
  const drop = () => {};
  const m = monitorProcess({
    command: 'sh',
    args: ['-c', 'echo one; echo two >&2; read _ 2>/dev/null; echo three'],
    onLine: (stream, line) => seen.push(`${stream}:${line}`),
    logger: { debug: drop, warn: drop, error: drop, info: (obj, msg) => logged.push({ ...obj, msg }) },
    name: 'shell',
  });
  const off = m.onLine((stream, line) => later.push(`${stream}:${line}`));
  await m.wait();
  off();
  assert.deepEqual(seen.sort(), ['stderr:two', 'stdout:one', 'stdout:three']);
  assert.deepEqual(later.sort(), seen);
  assert.deepEqual(
    logged.find((l) => (l as { msg: string }).msg === 'two'),
    { stream: 'stderr', pid: m.pid, name: 'shell', msg: 'two' },
  );
  assert.deepEqual(m.exitInfo, { code: 0, signal: null });
});

test('treeRss and treeCpuMs cover the child and its descendants, and are 0 once they are gone', async () => {
  const { treeRss, treeCpuMs, listDescendants } = await import('../../src/process/tree.js');
  const m = monitorProcess({ command: node, args: proc('tree'), killGraceMs: 300 });
  await until(() => m.tail().filter((l) => l.startsWith('pid ')).length === 3, 'three pids printed');
  const pid = m.pid!;
  assert.equal(listDescendants(pid).length, 2);
  const rss = treeRss(pid);
  assert.ok(rss > 3 * 10 * 1024 * 1024, `three node processes use more than ${rss} bytes`);
  assert.ok(treeCpuMs(pid) >= 0);
  m.kill();
  await m.wait();
  assert.equal(treeRss(pid), 0);
  assert.equal(treeCpuMs(pid), 0);
});

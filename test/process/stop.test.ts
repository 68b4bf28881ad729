// Stopping a process tree as a hostile program would resist it: a SIGSTOPped program still runs
// its SIGTERM handler (SIGCONT follows the kill signal), and a helper that a SIGTERM trap starts
// in a new session, after the tree was snapshotted, is found again and SIGKILLed.
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClock } from '../../src/testing/index.js';
import { monitorProcess, ProcessExitError } from '../../src/process/index.js';
import { killTree, procInfo, signalQuietly } from '../../src/process/tree.js';
import { gone, node, procFixture, until } from './helpers.js';

/** `p`, or a rejection after `ms` of real time: a stop that never ends fails the test instead of hanging it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('a SIGSTOPped program is continued after SIGTERM, runs its handler and exits before the grace ends', async () => {
  const clock = new TestClock(); // the 60 s grace never ends unless the test says so
  const m = monitorProcess({ command: node, args: [procFixture, 'stop-aware'], clock, killGraceMs: 60_000, ready: { log: 'ready' } });
  await m.ready();
  const pid = m.pid!;
  try {
    assert.equal(m.isStopped(), false);
    signalQuietly(pid, 'SIGSTOP');
    await until(() => m.isStopped(), 'state T in /proc');
    assert.equal(procInfo(pid)?.state, 'T');
    m.kill();
    await within(m.wait(), 10_000, 'the stop of a stopped program');
    assert.deepEqual(m.exitInfo, { code: 0, signal: null }, 'it exited through its SIGTERM handler');
    assert.ok(m.tail().includes('got SIGTERM'));
    assert.equal(m.isStopped(), false);
  } finally {
    signalQuietly(pid, 'SIGKILL');
  }
});

test('a helper started in a new session by a SIGTERM trap, after the snapshot, is SIGKILLed when the grace ends', async () => {
  const clock = new TestClock(); // the grace ends when the test says, however slowly the helper boots
  const m = monitorProcess({ command: node, args: [procFixture, 'term-helper'], clock, killGraceMs: 5000, ready: { log: 'ready' } });
  await m.ready();
  let helper: number | undefined;
  try {
    m.kill();
    await until(() => m.tail().some((l) => l.startsWith('helper ')), 'the helper started');
    helper = Number(
      m
        .tail()
        .find((l) => l.startsWith('helper '))!
        .slice(7),
    );
    const info = procInfo(helper);
    assert.ok(info !== undefined && info.sid === helper && info.pgrp === helper, 'the helper leads a session of its own');
    await until(() => m.exitInfo !== undefined, 'the child exited through its trap');
    assert.ok(!gone(helper), 'the helper ignores SIGTERM');
    await clock.advance(5000);
    await within(m.wait(), 10_000, 'the stop');
    assert.ok(gone(helper), `helper ${helper} survived the stop`);
  } finally {
    if (helper !== undefined) signalQuietly(helper, 'SIGKILL');
  }
});

test('a child that exits on its own leaves no descendant behind, not even one in a session of its own', async () => {
  const m = monitorProcess({ command: node, args: [procFixture, 'tree'] });
  const pids = () =>
    m
      .tail()
      .filter((l) => l.startsWith('pid '))
      .map((l) => Number(l.split(' ')[2]));
  await until(() => pids().length === 3, 'three pids printed');
  const [child, grandchild, great] = pids() as [number, number, number];
  try {
    assert.equal(procInfo(great)?.sid, great, 'the great-grandchild leads its own session');
    signalQuietly(child, 'SIGUSR1');
    await assert.rejects(m.wait(), (e: unknown) => e instanceof ProcessExitError && e.exitCode === 1);
    await until(() => gone(grandchild) && gone(great), 'the rest of the tree killed after the exit', 5000);
  } finally {
    for (const pid of [grandchild, great]) signalQuietly(pid, 'SIGKILL');
  }
});

test("a member that left the group after the snapshot (setsid between its fork and exec) is signalled on its own, not left to the group's signal", async () => {
  const leader = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  const leaver = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  try {
    await until(() => procInfo(leader.pid!) !== undefined && procInfo(leaver.pid!) !== undefined, 'both running');
    // The snapshot was taken while the leaver was still in the leader's group.
    const stale = { ...procInfo(leaver.pid!)!, pgrp: leader.pid! };
    killTree(leader.pid!, 'SIGKILL', [stale]);
    await until(() => gone(leader.pid!), 'the group leader is gone');
    await until(() => gone(leaver.pid!), 'the member that left the group is gone', 2000);
  } finally {
    for (const p of [leader, leaver]) if (!gone(p.pid!)) p.kill('SIGKILL');
  }
});

// ProcessPool failures stay with their cause: late errors in a child fail no call, an aborted
// call's kill reaches every process it started, close() is bounded, bad arguments are named,
// and one AbortSignal may be shared by any number of calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimeoutError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { PoolArgumentError, ProcessPool, type PoolErrorEvent } from '../../src/process/index.js';
import { fixture, gone, until } from './helpers.js';

const moduleFile = fixture('pool-module.js');

function recordingLogger(): Logger & { errors: { obj: object; msg?: string }[] } {
  const errors: { obj: object; msg?: string }[] = [];
  const drop = () => {};
  return { debug: drop, info: drop, warn: drop, error: (obj, msg) => void errors.push({ obj, msg }), errors };
}

test('an error thrown after a call returned is reported and fails no other call; the child is replaced once idle', async () => {
  const logger = recordingLogger();
  const pool = new ProcessPool({ module: moduleFile, size: 1, logger });
  const events: PoolErrorEvent[] = [];
  pool.on('error', (e) => events.push(e));
  try {
    const first = await pool.run<number>('pid');
    assert.equal(await pool.run('lateThrow', [20]), 1);
    // Queued behind it on the same child: running when the late error fires.
    const innocent = await pool.run('delay', [200, 'innocent']);
    assert.equal(innocent, 'innocent');
    await until(() => events.length === 1, 'the error event');
    assert.equal(events[0]!.kind, 'uncaughtException');
    assert.equal(events[0]!.pid, first);
    assert.equal((events[0]!.error as Error).message, 'late failure');
    assert.ok(
      logger.errors.some((e) => /threw outside any call/.test(e.msg ?? '')),
      'logged at error level',
    );
    assert.equal(pool.stats().failed, 0, 'no call failed');
    await until(() => gone(first), 'the child that threw is retired');
    assert.notEqual(await pool.run<number>('pid'), first, 'a fresh child runs the next call');
  } finally {
    await pool.close();
  }
});

test('a rejection left unhandled after a call returned is reported; calls queued behind it succeed', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  const events: PoolErrorEvent[] = [];
  pool.on('error', (e) => events.push(e));
  try {
    const results = await Promise.all([pool.run('leakRejection'), pool.run('add', [1, 2]), pool.run('delay', [5, 'after'])]);
    assert.deepEqual(results, [2, 3, 'after']);
    await until(() => events.length === 1, 'the error event');
    assert.equal(events[0]!.kind, 'unhandledRejection');
    assert.ok(events[0]!.error instanceof RangeError);
    assert.equal((events[0]!.error as Error).message, 'leaked rejection');
    assert.equal(pool.stats().failed, 0);
  } finally {
    await pool.close();
  }
});

test('aborting a call kills every process it started, a setsid grandchild included', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  let grandchild: number | undefined;
  try {
    const ac = new AbortController();
    const call = pool.run('setsidGrandchild', [], { signal: ac.signal, onMessage: (pid) => (grandchild = pid as number) });
    await until(() => grandchild !== undefined, 'the grandchild started');
    ac.abort(new Error('caller gave up'));
    await assert.rejects(call, /caller gave up/);
    await until(() => gone(grandchild!), 'the setsid grandchild is gone', 5000);
    assert.equal(await pool.run('add', [2, 2]), 4);
  } finally {
    if (grandchild !== undefined && !gone(grandchild)) process.kill(grandchild, 'SIGKILL');
    await pool.close();
  }
});

test('close({ timeoutMs }) ends a call that spins for ever by destroying the pool after the timeout', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  const pid = await pool.run<number>('pid');
  const spinning = pool.run('spin').catch((e: unknown) => e);
  await until(() => pool.stats().running === 1, 'spin running');
  await pool.close({ timeoutMs: 50 });
  const err = await spinning;
  assert.ok(err instanceof TimeoutError, `got ${String(err)}`);
  assert.match((err as Error).message, /did not close within 50 ms/);
  assert.ok(gone(pid));
  assert.equal(pool.stats().children, 0);
  await pool.wait();
});

test('close({ timeoutMs }) that finishes in time resolves every call normally', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  const call = pool.run('delay', [5, 'done']);
  await pool.close({ timeoutMs: 10_000 });
  assert.equal(await call, 'done');
});

test('an argument that cannot be cloned fails that call with PoolArgumentError naming its position', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  try {
    const err = await pool.run('add', [1, () => 1]).catch((e: unknown) => e);
    assert.ok(err instanceof PoolArgumentError, `got ${String(err)}`);
    assert.equal(err.code, 'ERR_POOL_ARGUMENT');
    assert.equal(err.index, 1);
    assert.match(err.message, /pool call add: argument 1 cannot be sent to a child/);
    assert.match(String((err.cause as Error).message), /could not be cloned/);
    const result = await pool.run('unclonable').catch((e: unknown) => e);
    assert.match(String((result as Error).message), /result cannot be sent back/);
    assert.equal(await pool.run('add', [20, 22]), 42);
  } finally {
    await pool.close();
  }
});

test('one AbortSignal shared by many calls adds one listener: no MaxListenersExceededWarning, and aborting it ends them all', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  const pool = new ProcessPool({ module: moduleFile, size: 2 });
  try {
    const shared = new AbortController();
    const done = await Promise.all(Array.from({ length: 25 }, (_, i) => pool.run<number>('add', [i, 0], { signal: shared.signal })));
    assert.deepEqual(
      done,
      Array.from({ length: 25 }, (_, i) => i),
    );
    const hanging = Array.from({ length: 15 }, () => pool.run('hang', [], { signal: shared.signal }).catch((e: unknown) => e));
    await new Promise((r) => setImmediate(r));
    shared.abort(new Error('all of them'));
    for (const e of await Promise.all(hanging)) assert.equal((e as Error).message, 'all of them');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
      [],
    );
  } finally {
    process.off('warning', onWarning);
    await pool.close();
  }
});

test('report() shows the pool state, its module and each child', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 2 });
  try {
    await Promise.all([pool.run('pid'), pool.run('pid')]);
    const r = pool.report();
    assert.equal(r.state, 'open');
    assert.equal(r.module, moduleFile);
    assert.equal(r.workers.length, 2);
    for (const w of r.workers) assert.equal(typeof w.pid, 'number');
    assert.equal(r.completed, 2);
  } finally {
    await pool.close();
  }
  assert.equal(pool.report().state, 'closing');
});

// ProcessPool with real child processes: order, errors, child death and replacement, large
// messages, close/destroy reaping, timeouts, aborts, recycling, queue bounds, module failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadError, TimeoutError } from '../../src/core/errors.js';
import { ChildDeathError, PoolModuleError, ProcessPool, QueueFullError } from '../../src/process/index.js';
import { listDescendants } from '../../src/process/tree.js';
import { fixture, gone, until } from './helpers.js';

/** Live processes descending from this test process (the pool's children and theirs). */
const liveDescendants = () =>
  listDescendants(process.pid)
    .filter((p) => !gone(p.pid))
    .map((p) => p.pid);

const moduleFile = fixture('pool-module.js');

test('10,000 calls come back with the right results, in order', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 2 });
  try {
    const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => pool.run<number>('add', [i, 1])));
    results.forEach((r, i) => assert.equal(r, i + 1));
    const s = pool.stats();
    assert.equal(s.completed, 10_000);
    assert.equal(s.failed, 0);
    assert.equal(s.running + s.queued, 0);
  } finally {
    await pool.close();
  }
});

test('results cross by structured clone; a thrown error keeps its class name, message, stack and own properties', async () => {
  const pool = new ProcessPool({ module: new URL('./fixtures/pool-module.js', import.meta.url), size: 1 });
  try {
    const v = (await pool.run('structured')) as { when: Date; map: Map<number, string>; set: Set<string>; big: bigint; re: RegExp };
    assert.ok(v.when instanceof Date && v.when.getTime() === 0);
    assert.equal(v.map.get(1), 'one');
    assert.ok(v.set.has('a'));
    assert.equal(v.big, 10n);
    assert.equal(v.re.source, 'x+');

    const err = await pool.run('validate', ['email']).catch((e: unknown) => e);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ValidationError');
    assert.equal(err.constructor.name, 'ValidationError');
    assert.equal(err.message, 'email is not valid');
    assert.equal((err as Error & { field?: string }).field, 'email');
    assert.match(err.stack ?? '', /^ValidationError: email is not valid\n\s+at validate .*pool-module\.js/);

    const te = await pool.run('typeError').catch((e: unknown) => e);
    assert.ok(te instanceof TypeError);
    assert.equal((te as TypeError).message, 'not a function');

    // What structured clone cannot carry fails that call only.
    await assert.rejects(pool.run('add', [() => 1, 2]), /could not be cloned/);
    await assert.rejects(pool.run('unclonable'), /could not be cloned/);
    assert.equal(await pool.run('add', [20, 22]), 42);

    const missing = await pool.run('noSuchFunction').catch((e: unknown) => e);
    assert.ok(missing instanceof TypeError);
    assert.match((missing as Error).message, /noSuchFunction/);
  } finally {
    await pool.close();
  }
});

test('process.exit(7) during a call rejects it with ChildDeathError code 7; the next call runs on a new child', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  try {
    const first = await pool.run<number>('pid');
    const err = await pool.run('exitWith', [7]).catch((e: unknown) => e);
    assert.ok(err instanceof ChildDeathError, `got ${String(err)}`);
    assert.equal(err.code, 'ERR_CHILD_DEATH');
    assert.equal(err.exitCode, 7);
    assert.equal(err.signal, null);
    const second = await pool.run<number>('pid');
    assert.notEqual(second, first);
    assert.ok(gone(first));
    assert.equal(pool.stats().restarts, 1);
    assert.equal(await pool.run('add', [2, 2]), 4);
  } finally {
    await pool.close();
  }
});

test('calls pipelined behind a dying one are not lost: they run on the replacement', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1, pipeline: 8 });
  try {
    const dying = pool.run('exitWith', [3]).catch((e: unknown) => e);
    const after = Array.from({ length: 5 }, (_, i) => pool.run<number>('add', [i, 10]));
    assert.ok((await dying) instanceof ChildDeathError);
    assert.deepEqual(await Promise.all(after), [10, 11, 12, 13, 14]);
  } finally {
    await pool.close();
  }
});

test('1 MiB messages from send() arrive intact and in order before the call settles', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  try {
    const MiB = 1024 * 1024;
    const got: { i: number; data: Uint8Array }[] = [];
    const result = await pool.run<Uint8Array, { i: number; data: Uint8Array }>('bigMessages', [4, MiB], {
      onMessage: (m) => got.push(m),
    });
    assert.equal(got.length, 4);
    got.forEach((m, i) => {
      assert.equal(m.i, i);
      assert.equal(m.data.length, MiB);
      assert.ok(
        m.data.every((b) => b === i + 1),
        `message ${i} corrupted`,
      );
    });
    assert.equal(result.length, MiB);
    assert.ok(result.every((b) => b === 255));

    // Many small messages from calls pipelined together stay with their own call.
    const counts = await Promise.all(
      [3, 0, 5].map(async (n) => {
        const seen: number[] = [];
        await pool.run('progress', [n], { onMessage: (m) => seen.push(m as number) });
        return seen;
      }),
    );
    assert.deepEqual(counts, [[0, 1, 2], [], [0, 1, 2, 3, 4]]);

    // Another copy of bosun/process/child finds the same channel.
    const viaCopy: unknown[] = [];
    await pool.run('sendViaCopy', [3], { onMessage: (m) => viaCopy.push(m) });
    assert.deepEqual(viaCopy, [0, 1, 2]);
  } finally {
    await pool.close();
  }
});

test('close() while calls are queued completes them all, then every child is reaped', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 2, pipeline: 1 });
  const pids = await Promise.all([pool.run<number>('pid'), pool.run<number>('pid')]);
  const calls = Array.from({ length: 20 }, (_, i) => pool.run('delay', [5, i]));
  assert.ok(pool.stats().queued > 0, 'calls are waiting when close() is called');
  const closed = pool.close();
  await assert.rejects(pool.run('add', [1, 1]), DeadError);
  assert.deepEqual(
    await Promise.all(calls),
    Array.from({ length: 20 }, (_, i) => i),
  );
  await closed;
  await pool.wait();
  assert.equal(pool.stats().children, 0);
  for (const pid of pids) assert.ok(gone(pid), `child ${pid} outlived close()`);
  assert.deepEqual(liveDescendants(), []);
});

test('destroy() rejects running and queued calls and leaves no child process', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 2 });
  const pids = new Set(await Promise.all(Array.from({ length: 8 }, () => pool.run<number>('pid'))));
  assert.ok(pids.size >= 1);
  const hanging = Array.from({ length: 6 }, () => pool.run('hang').catch((e: unknown) => e));
  await until(() => pool.stats().running > 0, 'calls running');
  await pool.destroy();
  for (const e of await Promise.all(hanging)) assert.ok(e instanceof DeadError, `got ${String(e)}`);
  for (const pid of pids) assert.ok(gone(pid), `child ${pid} outlived destroy()`);
  assert.equal(pool.stats().children, 0);
  assert.deepEqual(liveDescendants(), []);
  await pool.wait();
});

test('a timed-out or aborted call rejects and kills its child; the pool goes on', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1, taskTimeoutMs: 10_000 });
  try {
    const p1 = await pool.run<number>('pid');
    await assert.rejects(pool.run('hang', [], { timeoutMs: 100 }), TimeoutError);
    await until(() => gone(p1), 'timed-out child gone');
    const p2 = await pool.run<number>('pid');
    assert.notEqual(p2, p1);

    const ac = new AbortController();
    const aborted = pool.run('hang', [], { signal: ac.signal });
    await until(() => pool.stats().running === 1, 'hang running');
    ac.abort(new Error('caller gave up'));
    await assert.rejects(aborted, /caller gave up/);
    await until(() => gone(p2), 'aborted child gone');
    assert.equal(await pool.run('add', [1, 2]), 3);

    // A call sent ahead but not started is skipped by its child, which lives on.
    const p3 = await pool.run<number>('pid');
    const ac3 = new AbortController();
    const first = pool.run('delay', [200, 'first']);
    const skipped = pool.run('delay', [0, 'skipped'], { signal: ac3.signal });
    const third = pool.run('delay', [0, 'third']);
    await until(() => pool.stats().running === 3, 'three calls sent');
    ac3.abort(new Error('not any more'));
    await assert.rejects(skipped, /not any more/);
    assert.deepEqual(await Promise.all([first, third]), ['first', 'third']);
    assert.equal(await pool.run('pid'), p3);

    // An abort before the call is sent just removes it.
    const ac2 = new AbortController();
    ac2.abort(new Error('never mind'));
    await assert.rejects(pool.run('add', [1, 1], { signal: ac2.signal }), /never mind/);
  } finally {
    await pool.close();
  }
});

test('recycleAfter replaces a child after N calls; maxQueue bounds waiting calls', async () => {
  const recycling = new ProcessPool({ module: moduleFile, size: 1, recycleAfter: 5 });
  try {
    const pids: number[] = [];
    for (let i = 0; i < 12; i++) pids.push(await recycling.run<number>('pid'));
    assert.equal(new Set(pids).size, 3);
    assert.equal(new Set(pids.slice(0, 5)).size, 1);
  } finally {
    await recycling.close();
  }

  // Calls pipelined to the busy child wait too, so the default pipeline must not let more in.
  for (const pipeline of [1, 16]) {
    const bounded = new ProcessPool({ module: moduleFile, size: 1, pipeline, maxQueue: 2 });
    const running = bounded.run('hang').catch(() => {});
    const queued = [bounded.run('add', [1, 1]), bounded.run('add', [2, 2])].map((p) => p.catch((e: unknown) => e));
    await assert.rejects(bounded.run('add', [3, 3]), QueueFullError, `pipeline ${pipeline}`);
    await bounded.destroy();
    await running;
    for (const e of await Promise.all(queued)) assert.ok(e instanceof DeadError);
  }
});

test('a module that fails to load rejects calls with PoolModuleError and fails the pool', async () => {
  const pool = new ProcessPool({ module: fixture('broken-module.js'), size: 1 });
  const err = await pool.run('anything').catch((e: unknown) => e);
  assert.ok(err instanceof PoolModuleError, `got ${String(err)}`);
  assert.match(String((err.cause as Error).message), /cannot load/);
  await assert.rejects(pool.wait(), PoolModuleError);
  assert.equal(pool.stats().children, 0);
});

test('a pool closed or destroyed before its children loaded the module stops cleanly', async () => {
  const closed = new ProcessPool({ module: moduleFile, size: 3 });
  await closed.close();
  await closed.wait();
  const destroyed = new ProcessPool({ module: moduleFile, size: 3 });
  await destroyed.destroy();
  await destroyed.wait();
  assert.deepEqual(liveDescendants(), []);
});

test('calls pipelined behind a timed-out or aborted call run on the replacement child', async () => {
  const pool = new ProcessPool({ module: moduleFile, size: 1 });
  try {
    const ac = new AbortController();
    const aborted = pool.run('hang', [], { signal: ac.signal }).catch((e: unknown) => e);
    const behindAbort = pool.run<number>('add', [2, 3]);
    ac.abort(new Error('caller gave up'));
    assert.equal(((await aborted) as Error).message, 'caller gave up');
    assert.equal(await behindAbort, 5);

    const timedOut = pool.run('hang', [], { timeoutMs: 100 }).catch((e: unknown) => e);
    const behindTimeout = pool.run<number>('add', [4, 5]);
    assert.ok((await timedOut) instanceof TimeoutError);
    assert.equal(await behindTimeout, 9);
  } finally {
    await pool.close();
  }
});

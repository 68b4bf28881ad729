// Contract check of `bosun/queue`, imported by package name (dist/), against shared/DESIGN.md.
// The same scenarios run on memoryStore, pgliteStore (temp dir) and postgresStore (the real
// PostgreSQL in DATABASE_URL, in a unique schema dropped after).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stopWorker, noopWorker, startWorker, type Worker } from 'bosun';
import { JobQueue, memoryStore, pgliteStore, postgresStore, StoreLockedError, TimeoutError, type Job, type Store } from 'bosun/queue';
import { TestClock } from 'bosun/testing';

const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const fastWorker = { pollMs: 20, leaseMs: 2000 };

async function until<T>(what: string, cond: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function suite(name: string, makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void>; schema?: string }>): void {
  describe(`contract: JobQueue on ${name}`, () => {
    let q: JobQueue;
    let cleanup: () => Promise<void>;
    let schema: string | undefined;
    let kindSeq = 0;
    // a fresh kind per test, so tests sharing one queue do not see each other's jobs
    const kind = (k: string) => `${k}-${++kindSeq}`;

    before(async () => {
      const s = await makeStore();
      cleanup = s.cleanup;
      schema = s.schema;
      q = await JobQueue.open({ store: s.store });
    });
    after(async () => {
      await q.close();
      await cleanup();
    });

    test('add resolves a Job with every field; needs no worker; kind and payload are checked', async () => {
      const k = kind('fields');
      const job: Job = await q.add(k, { a: [1, 'two', null] });
      assert.equal(typeof job.id, 'string');
      assert.equal(job.kind, k);
      assert.deepEqual(job.payload, { a: [1, 'two', null] });
      assert.equal(job.state, 'pending');
      assert.equal(job.attempts, 0);
      assert.equal(job.maxAttempts, 5);
      assert.equal(job.priority, 0);
      assert.ok(job.runAt instanceof Date);
      assert.equal(job.key, undefined);
      assert.equal(job.lastError, undefined);
      const got = await q.get(job.id);
      assert.equal(got?.id, job.id);
      assert.equal(got?.state, 'pending');
      assert.equal(await q.get('987654321'), null);
      await assert.rejects(q.add('', {}), TypeError);
      await assert.rejects(q.add(undefined as unknown as string, {}), TypeError);
      await assert.rejects(q.add(k, { n: 10n }));
      const cyclic: Record<string, unknown> = {};
      cyclic['self'] = cyclic;
      await assert.rejects(q.add(k, cyclic));
      await assert.rejects(q.add(k, () => 1));
      const opts = await q.add(k, null, { priority: 3, maxAttempts: 2, key: `${k}:x`, delayMs: 60_000 });
      assert.equal(opts.priority, 3);
      assert.equal(opts.maxAttempts, 2);
      assert.equal(opts.key, `${k}:x`);
      assert.ok(opts.runAt.getTime() > Date.now() + 50_000);
      await q.cancel(opts.id);
    });

    test('a kind longer than the stores can index is refused at add and worker with a RangeError naming the limit', async () => {
      const long = 'k'.repeat(1001);
      await assert.rejects(q.add(long, {}), (err: Error) => err instanceof RangeError && /at most 1000 bytes/.test(err.message));
      assert.throws(() => q.worker(long, async () => {}), RangeError);
      const job = await q.add('é'.repeat(500), {}); // 1000 bytes exactly is accepted
      assert.equal(job.kind, 'é'.repeat(500));
      await q.cancel(job.id);
    });

    test('kind is any non-empty string: spaces, quotes, unicode, punctuation, 200 characters', async () => {
      const kinds = [`émail "q" 's; DROP TABLE x; -- ${kindSeq}`, `a,b:c/d ${++kindSeq}`, `${'k'.repeat(200)}${++kindSeq}`];
      for (const k of kinds) {
        const job = await q.add(k, { k });
        let got: unknown;
        const w = q.worker(k, async (j) => void (got = j.payload), fastWorker);
        await until(`job of kind ${k.slice(0, 10)}`, async () => (await q.get(job.id))?.state === 'done');
        assert.deepEqual(got, { k });
        await stopWorker(w);
      }
    });

    test('priority: larger first, then runAt, then add order; worker() returns a Worker synchronously', async () => {
      const k = kind('order');
      const past = Date.now() - 60_000;
      await q.add(k, 'a');
      await q.add(k, 'b', { priority: 5 });
      await q.add(k, 'c');
      await q.add(k, 'd', { priority: 5 });
      await q.add(k, 'early', { runAt: new Date(past) });
      await q.add(k, 'neg', { priority: -1, runAt: past - 1000 });
      const seen: unknown[] = [];
      const w: Worker = q.worker(k, async (job) => void seen.push(job.payload), { ...fastWorker, concurrency: 1 });
      assert.equal(typeof w.kill, 'function');
      assert.equal(typeof (w as unknown as { then?: unknown }).then, 'undefined');
      await until('six jobs', () => seen.length === 6);
      assert.deepEqual(seen, ['b', 'd', 'early', 'a', 'c', 'neg']);
      await stopWorker(w);
    });

    test('key: add returns the pending or running job unchanged; once done or cancelled the key is free', async () => {
      const k = kind('key');
      const first = await q.add(k, { v: 1 }, { key: 'same' });
      const again = await q.add(k, { v: 2 }, { key: 'same', priority: 9 });
      assert.equal(again.id, first.id);
      assert.deepEqual(again.payload, { v: 1 });
      assert.equal(again.priority, 0);
      const w = q.worker(k, async () => {}, fastWorker);
      await until('done', async () => (await q.get(first.id))?.state === 'done');
      await stopWorker(w);
      const third = await q.add(k, { v: 3 }, { key: 'same' });
      assert.notEqual(third.id, first.id);
      const cancelled = await q.cancel(third.id);
      assert.equal(cancelled?.state, 'cancelled');
      assert.equal((await q.get(third.id))?.state, 'cancelled');
      const fourth = await q.add(k, { v: 4 }, { key: 'same' });
      assert.notEqual(fourth.id, third.id);
      await q.cancel(fourth.id);
    });

    test('maxAttempts 1: failed and kept with lastError; failed() newest first; retry() resets; backoff retries', async () => {
      const k = kind('fail');
      const j1 = await q.add(k, 1, { maxAttempts: 1 });
      const j2 = await q.add(k, 2, { maxAttempts: 1 });
      let mayPass = false;
      const runs: number[] = [];
      const w = q.worker(
        k,
        async (job) => {
          runs.push(job.payload as number);
          if (!mayPass) throw new Error(`bad ${String(job.payload)}`);
        },
        fastWorker,
      );
      await until('both failed', async () => (await q.get(j2.id))?.state === 'failed' && (await q.get(j1.id))?.state === 'failed');
      const failed = await q.get(j1.id);
      assert.equal(failed?.attempts, 1);
      assert.match(failed?.lastError ?? '', /bad 1/);
      const list = await q.failed({ kind: k });
      assert.deepEqual(
        list.map((j) => j.id),
        [j2.id, j1.id],
        'newest first',
      );
      assert.equal((await q.failed({ kind: k, limit: 1 })).length, 1);
      mayPass = true;
      const retried = await q.retry(j1.id);
      assert.equal(retried?.state, 'pending');
      assert.equal(retried?.attempts, 0);
      await until('retried job done', async () => (await q.get(j1.id))?.state === 'done');
      assert.deepEqual(runs.slice().sort(), [1, 1, 2]);
      await stopWorker(w);

      const k2 = kind('backoff');
      let n = 0;
      const j3 = await q.add(k2, null, { maxAttempts: 3 });
      const w2 = q.worker(
        k2,
        async () => {
          if (++n < 3) throw new Error('flaky');
        },
        { ...fastWorker, backoff: { initialMs: 30, jitter: 0 } },
      );
      await until('done after retries', async () => (await q.get(j3.id))?.state === 'done');
      assert.equal((await q.get(j3.id))?.attempts, 3);
      await stopWorker(w2);

      const counts = await q.counts();
      assert.equal(typeof counts, 'object');
    });

    test('a handler that surfaces its abort after a kill uses no attempt; its job is pending again', async () => {
      const k = kind('abort');
      const job = await q.add(k, null);
      let started = false;
      const w = q.worker(
        k,
        async (_job, signal) => {
          started = true;
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        },
        fastWorker,
      );
      await until('started', () => started);
      await stopWorker(w);
      const after = await q.get(job.id);
      assert.equal(after?.state, 'pending');
      assert.equal(after?.attempts, 0);
      await q.cancel(job.id);
    });

    test('the lease is renewed while a handler runs longer than leaseMs: no second delivery', async () => {
      const k = kind('long');
      const job = await q.add(k, null);
      let runs = 0;
      const handler = async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 700));
      };
      const w1 = q.worker(k, handler, { leaseMs: 200, pollMs: 20 });
      const w2 = q.worker(k, handler, { leaseMs: 200, pollMs: 20 });
      await until('done', async () => (await q.get(job.id))?.state === 'done');
      assert.equal(runs, 1);
      assert.equal((await q.get(job.id))?.attempts, 1);
      await Promise.all([stopWorker(w1), stopWorker(w2)]);
    });

    test(
      'a consumer process that dies is redelivered after its lease',
      { skip: name !== 'postgresStore' ? 'memory and PGlite stores belong to one process; another process cannot share them' : false },
      async () => {
        const k = kind('crash');
        const job = await q.add(k, null);
        const script = fileURLToPath(new URL('./fixtures/crash-consumer.js', import.meta.url));
        const child = spawn(process.execPath, [script, DATABASE_URL, schema!, k], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        try {
          await until('child started the job', () => out.includes(`started ${job.id}`));
        } finally {
          child.kill('SIGKILL');
        }
        await new Promise((r) => child.once('close', r));
        assert.equal((await q.get(job.id))?.state, 'running');
        const attempts: number[] = [];
        const w = q.worker(k, async (j) => void attempts.push(j.attempts), { pollMs: 20 });
        await until('redelivered', async () => (await q.get(job.id))?.state === 'done', 10_000);
        assert.deepEqual(attempts, [2]);
        await stopWorker(w);
      },
    );

    test('add(..., { queue }): jobs of one named queue run one at a time, in order', async () => {
      const k = kind('named');
      const order: number[] = [];
      let live = 0;
      let overlap = false;
      const handler = async (job: Job) => {
        if (live++ > 0) overlap = true;
        await new Promise((r) => setTimeout(r, 2));
        order.push(job.payload as number);
        live--;
      };
      const ws = [q.worker(k, handler, { ...fastWorker, concurrency: 4 }), q.worker(k, handler, { ...fastWorker, concurrency: 4 })];
      for (let i = 0; i < 12; i++) await q.add(k, i, { queue: `${k}-q` });
      await until('all done', async () => (await q.counts()).byKind[k]?.done === 12);
      await Promise.all(ws.map((w) => stopWorker(w)));
      assert.equal(overlap, false);
      assert.deepEqual(order, [...Array(12).keys()]);
    });

    test('worker(..., { timeoutMs }): a handler still running is aborted and its attempt fails with TimeoutError', async () => {
      const k = kind('timeout');
      let reason: unknown;
      const w = q.worker(
        k,
        (_job, signal) =>
          new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject((reason = signal.reason)), { once: true })),
        { ...fastWorker, timeoutMs: 50 },
      );
      const job = await q.add(k, null, { maxAttempts: 1 });
      await until('failed', async () => (await q.get(job.id))?.state === 'failed');
      assert.ok(reason instanceof TimeoutError);
      assert.match((await q.get(job.id))!.lastError!, /TimeoutError/);
      await stopWorker(w);
    });

    test('schedule / unschedule / scheduler(): one job per tick though two schedulers run', async () => {
      const k = kind('sched');
      await q.schedule(`${k}-every-second`, { cron: '* * * * * *', kind: k, payload: { x: 1 } });
      const runAts: number[] = [];
      const w = q.worker(k, async (job) => void runAts.push(job.runAt.getTime()), fastWorker);
      const s1 = q.scheduler();
      const s2 = q.scheduler();
      await until('two ticks', () => runAts.length >= 2, 10_000);
      assert.equal(await q.unschedule(`${k}-every-second`), true);
      await Promise.all([stopWorker(s1), stopWorker(s2), stopWorker(w)]);
      assert.equal(new Set(runAts).size, runAts.length);
    });

    test('lease: one contender at a time, even within one process; released when stopped', async () => {
      const name = `lease-${kind('l')}`;
      const holding = new Set<string>();
      const contender = (id: string) =>
        q.lease(name, { ttlMs: 300 }, () =>
          startWorker(async (signal) => {
            holding.add(id);
            await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
            holding.delete(id);
          }),
        );
      const a = contender('a');
      const b = contender('b');
      await until('one holder', () => holding.size === 1);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(holding.size, 1);
      const first = [...holding][0]!;
      await stopWorker(first === 'a' ? a : b);
      await until('other holder', () => holding.size === 1 && !holding.has(first), 5000);
      await stopWorker(first === 'a' ? b : a);
      assert.equal(holding.size, 0);
      // lease start may also return a promise of a Worker
      const c = q.lease(name, { ttlMs: 300 }, async () => noopWorker());
      await stopWorker(c);
    });
  });
}

suite('memoryStore', async () => ({ store: memoryStore(), cleanup: async () => {} }));

suite('pgliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bosun-contract-'));
  return { store: pgliteStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('contract: pgliteStore directory lock', () => {
  test("a second opener fails at once with StoreLockedError naming the holder's pid", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bosun-contract-lock-'));
    try {
      const q = await JobQueue.open({ store: pgliteStore(dir) });
      await assert.rejects(
        JobQueue.open({ store: pgliteStore(dir) }),
        (err: unknown) => err instanceof StoreLockedError && err.pid === process.pid && err.message.includes(String(process.pid)),
      );
      await q.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

suite('postgresStore', async () => {
  const schema = `contract_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  return {
    schema,
    store: postgresStore({ connectionString: DATABASE_URL, schema }),
    cleanup: async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
});

describe('contract: memoryStore with a clock', () => {
  test('takes every time from the clock: delayMs and runAt, retries', async () => {
    const clock = new TestClock(1_000_000);
    const q = await JobQueue.open({ store: memoryStore(), clock });
    const job = await q.add('later', null, { delayMs: 5000 });
    assert.equal(job.runAt.getTime(), 1_005_000);
    const ran: number[] = [];
    const w = q.worker('later', async () => void ran.push(clock.now()), { pollMs: 100 });
    await clock.advance(4900);
    assert.deepEqual(ran, []);
    await clock.advance(200);
    await until('ran', () => ran.length === 1, 2000);
    assert.ok(ran[0]! >= 1_005_000 && ran[0]! <= 1_005_100, String(ran[0]));
    w.kill();
    await clock.advance(0);
    await w.wait();
    await q.close();
  });

  test('retry n waits min(1 s × 2^(n−1), 1 h) ±10% by default; after the last attempt the job is failed and kept', async () => {
    const clock = new TestClock(0);
    const q = await JobQueue.open({ store: memoryStore(), clock });
    const job = await q.add('flaky', null, { maxAttempts: 3 });
    let runs = 0;
    const w = q.worker(
      'flaky',
      async () => {
        runs++;
        throw new Error('no');
      },
      { pollMs: 50 },
    );
    await clock.advance(0);
    await until('first run failed', async () => (await q.get(job.id))?.attempts === 1 && (await q.get(job.id))?.state === 'pending', 2000);
    let j = (await q.get(job.id))!;
    const d1 = j.runAt.getTime() - clock.now();
    assert.ok(d1 >= 900 && d1 <= 1100, `first retry in ${d1} ms`);
    await clock.advance(d1);
    for (let i = 0; i < 5 && runs < 2; i++) await clock.advance(50);
    await until('second run failed', async () => (await q.get(job.id))?.attempts === 2 && (await q.get(job.id))?.state === 'pending', 2000);
    j = (await q.get(job.id))!;
    const d2 = j.runAt.getTime() - clock.now();
    assert.ok(d2 >= 1800 - 60 && d2 <= 2200, `second retry in ${d2} ms`);
    await clock.advance(d2);
    for (let i = 0; i < 5 && runs < 3; i++) await clock.advance(50);
    await until('failed', async () => (await q.get(job.id))?.state === 'failed', 2000);
    assert.equal(runs, 3);
    assert.equal((await q.failed()).length, 1);
    // a cancelled job can be retried too
    const c = await q.add('other', null, { delayMs: 10_000 });
    await q.cancel(c.id);
    assert.equal((await q.retry(c.id))?.state, 'pending');
    w.kill();
    await clock.advance(0);
    await w.wait();
    await q.close();
  });

  test('lease renews every ttlMs/3 on the clock, and kills its worker when the lease is lost', async () => {
    const clock = new TestClock(0);
    const inner = memoryStore();
    const renewals: number[] = [];
    let lose = false;
    const tryLease: Store['tryLease'] = async (name, holder, ttlMs) => {
      renewals.push(clock.now());
      return lose ? false : inner.tryLease(name, holder, ttlMs);
    };
    // every other method goes to the real store, bound to it (it has private fields)
    const store = new Proxy(inner, {
      get: (target, prop) => {
        if (prop === 'tryLease') return tryLease;
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const q = await JobQueue.open({ store, clock });
    let running = false;
    let stopReason: unknown;
    const l = q.lease('leader', { ttlMs: 300 }, () =>
      startWorker(async (signal) => {
        running = true;
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        stopReason = signal.reason;
        running = false;
      }),
    );
    await until('holding', () => running, 2000);
    for (let i = 0; i < 3; i++) await clock.advance(100);
    assert.deepEqual(renewals, [0, 100, 200, 300]);
    lose = true;
    await clock.advance(100);
    await until('worker killed after the lease was lost', () => !running, 2000);
    assert.ok(stopReason !== undefined);
    l.kill();
    await clock.advance(0);
    await l.wait();
    await q.close();
  });

  test('close() stops the queue workers and leases', async () => {
    const q = await JobQueue.open({ store: memoryStore() });
    const w = q.worker('x', async () => {}, { pollMs: 20 });
    let leaseStopped = false;
    const l = q.lease('L', { ttlMs: 300 }, () =>
      startWorker(async (signal) => {
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        leaseStopped = true;
      }),
    );
    await new Promise((r) => setTimeout(r, 30));
    await q.close();
    await w.wait();
    await l.wait();
    assert.equal(leaseStopped, true);
  });
});

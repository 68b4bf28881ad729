// What a TestClock shows exactly on memoryStore: retry delays follow the backoff, a lease
// holder that cannot renew stops its worker before its lease could lapse and the other
// contender takes over after ttl, and a cancelled running job's handler is aborted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startWorker, stopWorker } from '../../src/core/index.js';
import { JobQueue, LeaseLostError, memoryStore, StoreError, type Store } from '../../src/queue/index.js';
import { TestClock, settle } from '../../src/testing/index.js';

async function advanceBy(clock: TestClock, total: number, step: number, each?: () => void): Promise<void> {
  for (let t = 0; t < total; t += step) {
    await clock.advance(step);
    each?.();
  }
}

test('retries wait initialMs * factor^(n-1) on the queue clock, then the job is failed', async () => {
  const clock = new TestClock(1_000_000);
  const q = await JobQueue.open({ store: memoryStore(), clock });
  const runs: number[] = [];
  const w = q.worker(
    'flaky',
    () => {
      runs.push(clock.now() - 1_000_000);
      throw new Error(`failure at ${clock.now()}`);
    },
    { pollMs: 60_000, backoff: { initialMs: 1000, factor: 2, jitter: 0 } },
  );
  const job = await q.add('flaky', null, { maxAttempts: 4 });
  await advanceBy(clock, 10_000, 100);
  assert.deepEqual(runs, [0, 1000, 3000, 7000]);
  const failed = (await q.get(job.id))!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.attempts, 4);
  assert.match(failed.lastError!, /failure at 1007000/);
  await stopWorker(w);
  await q.close();
});

test('the default backoff is 1 s doubling, capped at maxMs, with ±10% jitter', async () => {
  const clock = new TestClock(0);
  const q = await JobQueue.open({ store: memoryStore(), clock });
  const runs: number[] = [];
  const w = q.worker(
    'capped',
    () => {
      runs.push(clock.now());
      throw new Error('no');
    },
    { pollMs: 600_000, backoff: { maxMs: 3000 } },
  );
  await q.add('capped', null, { maxAttempts: 5 });
  await advanceBy(clock, 20_000, 50);
  const gaps = runs.slice(1).map((t, i) => t - runs[i]!);
  assert.equal(gaps.length, 4);
  for (const [gap, base] of gaps.map((g, i) => [g, [1000, 2000, 3000, 3000][i]!] as const)) {
    assert.ok(gap >= base * 0.9 - 50 && gap <= base * 1.1 + 50, `gap ${gap} for base ${base}`);
  }
  await stopWorker(w);
  await q.close();
});

test('cancelling a running job aborts its handler at the next renewal with LeaseLostError', async () => {
  const clock = new TestClock(0);
  const q = await JobQueue.open({ store: memoryStore(), clock });
  let reason: unknown;
  const w = q.worker(
    'cancel-me',
    (_job, signal) =>
      new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => {
          reason = signal.reason;
          resolve();
        }),
      ),
    { leaseMs: 1000 },
  );
  const job = await q.add('cancel-me', 1);
  await settle(5);
  assert.equal((await q.get(job.id))!.state, 'running');
  await q.cancel(job.id);
  await clock.advance(500);
  assert.ok(reason instanceof LeaseLostError, String(reason));
  assert.equal((await q.get(job.id))!.state, 'cancelled', 'the handler finishing does not mark it done');
  await stopWorker(w);
  await q.close();
});

/** A view of `base` that can be made to fail lease renewals, as if the database were unreachable. */
function breakable(base: Store): { store: Store; broken: { on: boolean } } {
  const broken = { on: false };
  const store = new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'close') return async () => {};
      if (prop === 'tryLease') {
        return (name: string, holder: string, ttlMs: number) =>
          broken.on ? Promise.reject(new Error('connection refused')) : target.tryLease(name, holder, ttlMs);
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, broken };
}

test('a holder that cannot renew stops its worker before its lease lapses; the other takes over within ttl + a renewal', async () => {
  const clock = new TestClock(0);
  const base = memoryStore();
  const a = breakable(base);
  const b = breakable(base);
  const qa = await JobQueue.open({ store: a.store, clock });
  const qb = await JobQueue.open({ store: b.store, clock });
  const holding = new Set<string>();
  let overlap = false;
  const child = (id: string) => () =>
    startWorker(async (signal) => {
      if (holding.size > 0) overlap = true;
      holding.add(id);
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      holding.delete(id);
    });
  const la = qa.lease('leader', { ttlMs: 900 }, child('a'));
  await settle(5);
  const lb = qb.lease('leader', { ttlMs: 900 }, child('b'));
  await settle(5);
  assert.deepEqual([...holding], ['a']);
  await advanceBy(clock, 3000, 50);
  assert.deepEqual([...holding], ['a'], 'renewals keep it');
  a.broken.on = true;
  const brokeAt = clock.now();
  let aStoppedAt = -1;
  let bStartedAt = -1;
  await advanceBy(clock, 3000, 50, () => {
    if (aStoppedAt < 0 && !holding.has('a')) aStoppedAt = clock.now() - brokeAt;
    if (bStartedAt < 0 && holding.has('b')) bStartedAt = clock.now() - brokeAt;
  });
  assert.ok(aStoppedAt >= 0 && aStoppedAt < 900, `a stopped ${aStoppedAt} ms after losing the database`);
  assert.ok(bStartedAt >= aStoppedAt && bStartedAt <= 900 + 300 + 300, `b took over after ${bStartedAt} ms`);
  assert.equal(overlap, false);
  await Promise.all([stopWorker(la), stopWorker(lb)]);
  await qa.close();
  await qb.close();
});

test("close() stops the queue's workers and leases, then refuses calls", async () => {
  const q = await JobQueue.open({ store: memoryStore(), clock: new TestClock(0) });
  const w = q.worker('any', () => {});
  let leaseChildStopped = false;
  const l = q.lease('solo', { ttlMs: 300 }, () =>
    startWorker(
      (signal) =>
        new Promise<void>((r) =>
          signal.addEventListener('abort', () => {
            leaseChildStopped = true;
            r();
          }),
        ),
    ),
  );
  await settle(5);
  await q.close();
  await w.wait();
  await l.wait();
  assert.equal(leaseChildStopped, true);
  await assert.rejects(q.add('any', 1), (err: unknown) => (err as { code?: string }).code === 'ERR_QUEUE_CLOSED');
  assert.throws(() => q.worker('any', () => {}), /closed/);
});

test('a store error that may heal is retried with backoff and logged: the consumer stays alive; one that will not heal stops it', async () => {
  const base = memoryStore();
  let failing: Error | undefined;
  const store = new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'claim' && failing) return () => Promise.reject(failing);
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const clock = new TestClock(0);
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
  const q = await JobQueue.open({ store, clock, logger });
  const ran: string[] = [];
  const w = q.worker('x', (job) => void ran.push(job.id), { pollMs: 100 });
  let stopped = false;
  w.wait().then(
    () => (stopped = true),
    () => (stopped = true),
  );
  await settle(5);
  failing = new StoreError('postgres', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
  await advanceBy(clock, 10_000, 100);
  assert.equal(stopped, false, 'still running after 10 s of failures');
  assert.ok(warnings.filter((m) => /store unavailable/.test(m)).length >= 3, warnings.join('; '));
  // far fewer tries than polls: the retries back off
  assert.ok(warnings.length < 40, `${warnings.length} retries in 10 s`);
  failing = undefined;
  const job = await q.add('x', 1);
  await advanceBy(clock, 6000, 100);
  assert.deepEqual(ran, [job.id], 'works again once the store is back');
  failing = new StoreError('postgres', Object.assign(new Error('relation "bosun.jobs" does not exist'), { code: '42P01' }));
  await advanceBy(clock, 200, 100);
  await assert.rejects(w.wait(), /does not exist/);
  await q.close();
});

/** memoryStore with every call counted by method name. */
function counted(): { store: Store; calls: Map<string, number> } {
  const base = memoryStore();
  const calls = new Map<string, number>();
  const store = new Proxy(base, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls };
}

test('30 idle consumers of a kind cost one poll a period, and a new job wakes one of them, not all', async () => {
  const clock = new TestClock(0);
  const { store, calls } = counted();
  const q = await JobQueue.open({ store, clock });
  const ran: string[] = [];
  const workers = Array.from({ length: 30 }, () => q.worker('idle', (job) => void ran.push(job.id), { pollMs: 1000 }));
  await settle(10);
  calls.clear();
  await advanceBy(clock, 10_000, 100);
  const polls = calls.get('claim') ?? 0;
  assert.ok(polls >= 9 && polls <= 12, `${polls} claims in 10 s of idling (30 consumers, pollMs 1000)`);
  calls.clear();
  await q.add('idle', 'one');
  await settle(10);
  assert.equal(ran.length, 1);
  // the woken one claims it (and, its batch being full, wakes one more) and looks once after it
  assert.ok((calls.get('claim') ?? 0) <= 3, `${calls.get('claim')} claims for one new job`);
  // a burst is spread: the woken consumer wakes the next while it finds full batches
  await q.addMany(Array.from({ length: 20 }, (_, i) => ({ kind: 'idle', payload: i })));
  for (let i = 0; i < 20 && ran.length < 21; i++) await settle(5);
  assert.equal(ran.length, 21);
  for (const w of workers) w.kill();
  await clock.advance(0);
  await Promise.all(workers.map((w) => w.wait()));
  await q.close();
});

test('schedules on a clock: three schedulers add exactly one job per tick; after a 3 s gap one tick is made up', async () => {
  const clock = new TestClock(Date.UTC(2026, 0, 1, 0, 0, 0, 500));
  const q = await JobQueue.open({ store: memoryStore(), clock });
  await q.schedule('every-second', { cron: '* * * * * *', kind: 'tick', payload: { n: 1 } });
  const runAts = async () =>
    (await Promise.all(Array.from({ length: 100 }, (_, i) => q.get(String(i + 1)))))
      .filter((j) => j !== null)
      .map((j) => j!.runAt.getTime() - Date.UTC(2026, 0, 1));
  let schedulers = [q.scheduler(), q.scheduler(), q.scheduler()];
  await advanceBy(clock, 5000, 100);
  assert.deepEqual(await runAts(), [1000, 2000, 3000, 4000, 5000]);
  for (const s of schedulers) s.kill();
  await clock.advance(0);
  await Promise.all(schedulers.map((s) => s.wait()));
  await clock.advance(3200); // ticks at 6, 7 and 8 s pass with no scheduler running
  schedulers = [q.scheduler(), q.scheduler()];
  await settle(10);
  assert.deepEqual(await runAts(), [1000, 2000, 3000, 4000, 5000, 8000], 'one job for the three missed ticks');
  await advanceBy(clock, 2000, 100);
  assert.deepEqual(await runAts(), [1000, 2000, 3000, 4000, 5000, 8000, 9000, 10000]);
  assert.equal(await q.unschedule('every-second'), true);
  await advanceBy(clock, 2000, 100);
  assert.equal((await runAts()).length, 8, 'nothing after unschedule');
  for (const s of schedulers) s.kill();
  await clock.advance(0);
  await Promise.all(schedulers.map((s) => s.wait()));
  await q.close();
});

test('a job whose acknowledgement is slow stays held: its lease is renewed until the outcome is recorded, and no other consumer runs it', async () => {
  const clock = new TestClock(0);
  const base = memoryStore();
  let ackGate: Promise<void> | undefined;
  let openGate!: () => void;
  const slowAcks = new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'close') return async () => {}; // qb closes the store they share
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'completeMany')
        return async (...args: unknown[]) => {
          await ackGate;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  ackGate = new Promise<void>((r) => (openGate = r));
  // Two queues on one store: two processes, each with its own claim tokens and reaper.
  const qa = await JobQueue.open({ store: slowAcks, clock });
  const qb = await JobQueue.open({ store: base, clock });
  const runs: string[] = [];
  const wa = qa.worker('slow-ack', (job) => void runs.push(`a ${job.id} ${job.attempts}`), { leaseMs: 1000, pollMs: 100 });
  await settle(5);
  const job = await qa.add('slow-ack', 1);
  await advanceBy(clock, 200, 50);
  assert.deepEqual(runs, [`a ${job.id} 1`]);
  const wb = qb.worker('slow-ack', (j) => void runs.push(`b ${j.id} ${j.attempts}`), { leaseMs: 1000, pollMs: 100 });
  // Five leases long, the acknowledgement has not landed: the job stays a's, running.
  await advanceBy(clock, 5000, 50);
  assert.deepEqual(runs, [`a ${job.id} 1`], 'nobody ran the job a second time');
  assert.equal((await base.get(job.id))!.state, 'running');
  openGate();
  await advanceBy(clock, 200, 50);
  const done = (await base.get(job.id))!;
  assert.equal(done.state, 'done');
  assert.equal(done.attempts, 1);
  await Promise.all([stopWorker(wa), stopWorker(wb)]);
  await qa.close();
  await qb.close();
});

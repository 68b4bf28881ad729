// The behavioural suite every store must pass (memory, PGlite, PostgreSQL), in one process.
// Each test uses its own job kinds and keys, so tests share one open queue per store.
// Real time is short and bounded here (leases of a few hundred ms); waits are on conditions.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopWorker, startWorker, noopWorker, type Worker } from '../../src/core/index.js';
import { InvalidPayloadError, JobQueue, type Job, type JobEvent, type Store } from '../../src/queue/index.js';
import { waitFor } from './helpers.js';

export interface SuiteOptions {
  /** Jobs in the "many jobs, four consumers" test. */
  manyJobs: number;
}

let seq = 0;
const kindOf = (what: string) => `${what}-${process.pid}-${++seq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function queueSuite(name: string, makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void> }>, opts: SuiteOptions): void {
  describe(`queue on ${name}`, () => {
    let q: JobQueue;
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await makeStore());
      q = await JobQueue.open({ store });
    });
    after(async () => {
      await q?.close();
      await cleanup?.();
    });

    test('add returns the job with its fields and get finds it', async () => {
      const kind = kindOf('fields');
      const before = Date.now();
      const job = await q.add(kind, { n: 1, list: [1, 'a', null], nested: { ok: true } }, { priority: 3, maxAttempts: 2 });
      assert.equal(typeof job.id, 'string');
      assert.equal(job.kind, kind);
      assert.deepEqual(job.payload, { n: 1, list: [1, 'a', null], nested: { ok: true } });
      assert.equal(job.state, 'pending');
      assert.equal(job.attempts, 0);
      assert.equal(job.maxAttempts, 2);
      assert.equal(job.priority, 3);
      assert.ok(job.runAt instanceof Date && Math.abs(job.runAt.getTime() - before) < 5000);
      assert.equal(job.key, undefined);
      assert.deepEqual(await q.get(job.id), job);
      assert.equal(await q.get('999999999'), null);
      const plain = await q.add(kind, 'just a string');
      assert.equal(plain.payload, 'just a string');
      assert.equal(plain.maxAttempts, 5);
    });

    test('refuses a payload that is not JSON-serialisable and a missing or empty kind at add', async () => {
      const kind = kindOf('invalid');
      const cyclic: Record<string, unknown> = {};
      cyclic['self'] = cyclic;
      for (const [payload, path] of [
        [undefined, 'payload'],
        [() => 1, 'payload'],
        [{ a: 10n }, 'payload.a'],
        [{ a: [1, NaN] }, 'payload.a[1]'],
        [{ when: new Date() }, 'payload.when'],
        [cyclic, 'payload.self'],
        [[undefined], 'payload[0]'],
        [{ m: new Map() }, 'payload.m'],
      ] as const) {
        await assert.rejects(q.add(kind, payload), (err: unknown) => {
          assert.ok(err instanceof InvalidPayloadError, String(err));
          assert.equal(err.code, 'ERR_QUEUE_INVALID_PAYLOAD');
          assert.equal(err.path, path);
          assert.match(err.message, /not JSON-serialisable/);
          return true;
        });
      }
      await assert.rejects(q.add('', {}), TypeError);
      await assert.rejects(q.add(undefined as unknown as string, {}), /kind must be a non-empty string/);
      await assert.rejects(q.add(kind, {}, { priority: 1.5 }), RangeError);
      await assert.rejects(q.add(kind, {}, { maxAttempts: 0 }), RangeError);
      await assert.rejects(q.addMany([{ kind, payload: 1 }, { kind, payload: Symbol('x') }]), /addMany item 1/);
      assert.equal((await q.counts()).byKind[kind], undefined, 'nothing was added');
      // undefined object properties are dropped, exactly as JSON does
      const ok = await q.add(kind, { a: 1, b: undefined });
      assert.deepEqual(ok.payload, { a: 1 });
    });

    test('key deduplicates while pending or running, and is free once the job is done', async () => {
      const kind = kindOf('key');
      const key = `${kind}-k`;
      const a = await q.add(kind, { v: 1 }, { key });
      const b = await q.add(kind, { v: 2 }, { key });
      assert.equal(b.id, a.id);
      assert.deepEqual(b.payload, { v: 1 }, 'the existing job is returned unchanged');
      const many = await q.addMany([
        { kind, payload: 3, options: { key } },
        { kind, payload: 4, options: { key: `${key}2` } },
        { kind, payload: 5, options: { key: `${key}2` } },
        { kind, payload: 6 },
      ]);
      assert.equal(many[0]!.id, a.id);
      assert.equal(many[1]!.id, many[2]!.id);
      assert.deepEqual(many[1]!.payload, 4);
      assert.deepEqual(many[3]!.payload, 6);
      assert.notEqual(many[3]!.id, many[1]!.id);
      const seen: unknown[] = [];
      const w = q.worker(kind, (job) => void seen.push(job.payload), { pollMs: 50 });
      await waitFor('three jobs done', async () => (await q.counts()).byKind[kind]?.done === 3);
      await stopWorker(w);
      assert.deepEqual(seen.map((p) => JSON.stringify(p)).sort(), ["4", "6", "{\"v\":1}"]);
      const c = await q.add(kind, { v: 7 }, { key });
      assert.notEqual(c.id, a.id, 'a done job frees its key');
      assert.equal(c.state, 'pending');
    });

    test('runs higher priority first, then earlier runAt, then add order', async () => {
      const kind = kindOf('order');
      const past = Date.now() - 60_000;
      await q.addMany([
        { kind, payload: 'p0-late', options: { runAt: past + 2000 } },
        { kind, payload: 'p0-early', options: { runAt: past + 1000 } },
        { kind, payload: 'p5-a', options: { priority: 5, runAt: past + 3000 } },
        { kind, payload: 'p5-b', options: { priority: 5, runAt: past + 3000 } },
        { kind, payload: 'p-1', options: { priority: -1, runAt: past } },
        { kind, payload: 'p9', options: { priority: 9, runAt: new Date(past + 5000) } },
      ]);
      const order: unknown[] = [];
      const w = q.worker(kind, (job) => void order.push(job.payload), { concurrency: 1, batchSize: 1, pollMs: 50 });
      await waitFor('six jobs run', () => order.length === 6);
      await stopWorker(w);
      assert.deepEqual(order, ['p9', 'p5-a', 'p5-b', 'p0-early', 'p0-late', 'p-1']);
    });

    test('a delayed job does not start early, and starts soon after it is due', async () => {
      const kind = kindOf('delay');
      const startedAt: number[] = [];
      const w = q.worker(kind, () => void startedAt.push(Date.now()), { pollMs: 100 });
      const t0 = Date.now();
      const delayed = await q.add(kind, 'later', { delayMs: 400 });
      assert.ok(delayed.runAt.getTime() >= t0 + 300, 'runAt is in the future');
      await sleep(200);
      // (only meaningful if this machine did not stall past runAt meanwhile)
      if (Date.now() < delayed.runAt.getTime() - 20) assert.equal(startedAt.length, 0, 'not started 200 ms in');
      await waitFor('delayed job run', () => startedAt.length === 1, 10_000);
      await stopWorker(w);
      assert.ok(startedAt[0]! >= delayed.runAt.getTime() - 5, `started ${startedAt[0]! - delayed.runAt.getTime()} ms after runAt`);
    });

    test(`${opts.manyJobs} jobs across four consumers: every job once`, async () => {
      const kind = kindOf('many');
      const runs = new Map<string, number>();
      const workers: Worker[] = [];
      for (let i = 0; i < 4; i++) {
        workers.push(q.worker(kind, (job) => void runs.set(job.id, (runs.get(job.id) ?? 0) + 1), { concurrency: 4, pollMs: 100 }));
      }
      const items = Array.from({ length: opts.manyJobs }, (_, i) => ({ kind, payload: { i } }));
      for (let i = 0; i < items.length; i += 1000) await q.addMany(items.slice(i, i + 1000));
      await waitFor('all jobs done', async () => (await q.counts()).byKind[kind]?.done === opts.manyJobs, 60_000);
      await Promise.all(workers.map((w) => stopWorker(w)));
      assert.equal(runs.size, opts.manyJobs);
      assert.ok([...runs.values()].every((n) => n === 1), 'no job ran twice');
    });

    test('batchSize above concurrency claims ahead: concurrency still holds, and a kill releases what never started', async () => {
      const kind = kindOf('ahead');
      let now = 0;
      let peak = 0;
      let gate!: () => void;
      const blocked = new Promise<void>((r) => (gate = r));
      const runs = new Map<string, number>();
      const w = q.worker(kind, async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        peak = Math.max(peak, ++now);
        await blocked;
        now--;
      }, { concurrency: 2, batchSize: 6, pollMs: 50 });
      const jobs = await q.addMany(Array.from({ length: 10 }, (_, i) => ({ kind, payload: i })));
      await waitFor('two running, four claimed ahead', async () => (await q.counts()).byKind[kind]?.running === 6);
      assert.equal(runs.size, 2);
      w.kill();
      gate();
      await w.wait();
      const states = await Promise.all(jobs.map(async (j) => (await q.get(j.id))!));
      assert.equal(states.filter((j) => j.state === 'done').length, 2);
      for (const j of states.filter((x) => x.state !== 'done')) {
        assert.equal(j.state, 'pending');
        assert.equal(j.attempts, 0, 'claimed ahead but never started: no attempt used');
      }
      const w2 = q.worker(kind, async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        peak = Math.max(peak, ++now);
        await sleep(5);
        now--;
      }, { concurrency: 2, batchSize: 6, pollMs: 50 });
      await waitFor('all done', async () => (await q.counts()).byKind[kind]?.done === 10);
      await stopWorker(w2);
      assert.equal(peak, 2, 'never more handlers than concurrency');
      assert.ok([...runs.values()].every((n) => n === 1));
    });

    test('retries with growing delays, then fails with the last error; retry(id) runs it again', async () => {
      const kind = kindOf('retry');
      const times: number[] = [];
      let succeed = false;
      const events: JobEvent[] = [];
      const off = q.onEvent((e) => e.job.kind === kind && events.push(e));
      const w = q.worker(
        kind,
        (job) => {
          times.push(Date.now());
          if (!succeed) throw new Error(`boom ${job.attempts}`);
        },
        { pollMs: 1000, backoff: { initialMs: 60, factor: 3, jitter: 0 } },
      );
      const job = await q.add(kind, null, { maxAttempts: 3 });
      await waitFor('job failed', async () => (await q.get(job.id))?.state === 'failed');
      const failed = (await q.get(job.id))!;
      assert.equal(failed.attempts, 3);
      assert.match(failed.lastError!, /boom 3/);
      assert.equal(times.length, 3);
      const gap1 = times[1]! - times[0]!;
      const gap2 = times[2]! - times[1]!;
      assert.ok(gap1 >= 55, `first retry waited ${gap1} ms, expected >= 60`);
      assert.ok(gap2 >= 170, `second retry waited ${gap2} ms, expected >= 180`);
      // exact growth on a TestClock: see memory-clock.test.ts
      const list = await q.failed({ kind });
      assert.deepEqual(list.map((j) => j.id), [job.id]);
      assert.deepEqual(
        events.filter((e) => e.type === 'error').map((e) => e.type === 'error' && e.willRetry),
        [true, true, false],
      );
      succeed = true;
      const again = await q.retry(job.id);
      assert.equal(again?.state, 'pending');
      assert.equal(again?.attempts, 0);
      await waitFor('retried job done', async () => (await q.get(job.id))?.state === 'done');
      assert.equal(times.length, 4);
      assert.equal((await q.get(job.id))!.attempts, 1);
      off();
      await stopWorker(w);
    });

    test('maxAttempts 1 means no retry', async () => {
      const kind = kindOf('once');
      let runs = 0;
      const w = q.worker(kind, () => {
        runs++;
        throw new Error('only once');
      }, { pollMs: 50, backoff: { initialMs: 10 } });
      const job = await q.add(kind, 1, { maxAttempts: 1 });
      await waitFor('failed', async () => (await q.get(job.id))?.state === 'failed');
      await sleep(100);
      assert.equal(runs, 1);
      await stopWorker(w);
    });

    test('a long handler keeps its lease by renewal and is not run twice', async () => {
      const kind = kindOf('long');
      let runs = 0;
      const opts2 = { leaseMs: 300, pollMs: 50 };
      const w1 = q.worker(kind, async () => {
        runs++;
        await sleep(1200);
      }, opts2);
      const w2 = q.worker(kind, async () => {
        runs++;
        await sleep(1200);
      }, opts2);
      const job = await q.add(kind, 'slow');
      await waitFor('done', async () => (await q.get(job.id))?.state === 'done', 15_000);
      await Promise.all([stopWorker(w1), stopWorker(w2)]);
      assert.equal(runs, 1);
      assert.equal((await q.get(job.id))!.attempts, 1);
    });

    test('a job whose consumer stopped renewing is redelivered after its lease, counting the attempt', async () => {
      const kind = kindOf('expire');
      const job = await q.add(kind, 'lost');
      // A consumer that claims and then dies silently: claim straight from the store.
      const { claims: [claim] } = await store.claim(kind, 1, 1, 300, 'dead-consumer');
      assert.equal(claim?.job.id, job.id);
      const seen: Job[] = [];
      const w = q.worker(kind, (j) => void seen.push(j), { leaseMs: 300, pollMs: 100 });
      await waitFor('redelivered', () => seen.length === 1, 10_000);
      await stopWorker(w);
      assert.equal(seen[0]!.attempts, 2);
      assert.equal((await store.completeMany([claim!.job], 'dead-consumer')).size, 0, 'the dead claim cannot acknowledge');
      assert.equal((await q.get(job.id))!.state, 'done');
    });

    test('killing a worker aborts handlers; an abort uses no attempt and the job is pending at once', async () => {
      const kind = kindOf('kill');
      let started = 0;
      const w = q.worker(kind, (_job, signal) => {
        started++;
        return new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      }, { concurrency: 2, pollMs: 50 });
      const a = await q.add(kind, 'a');
      const b = await q.add(kind, 'b');
      await waitFor('both running', () => started === 2);
      await stopWorker(w);
      for (const id of [a.id, b.id]) {
        const j = (await q.get(id))!;
        assert.equal(j.state, 'pending');
        assert.equal(j.attempts, 0);
        assert.ok(j.runAt.getTime() <= Date.now() + 50, 'due at once');
      }
      const seen: string[] = [];
      const w2 = q.worker(kind, (j) => void seen.push(j.id), { pollMs: 50 });
      await waitFor('picked up again', () => seen.length === 2);
      await stopWorker(w2);
    });

    test('a handler that ignores the kill is reported after the grace; its job stays held and is run by no one else until it settles', async () => {
      const kind = kindOf('grace');
      let runs = 0;
      let finish!: () => void;
      const events: JobEvent[] = [];
      const off = q.onEvent((e) => e.job.kind === kind && events.push(e));
      const opts2 = { graceMs: 150, pollMs: 20, leaseMs: 200 };
      const w = q.worker(kind, () => {
        runs++;
        return new Promise<void>((r) => (finish = r));
      }, opts2);
      const job = await q.add(kind, 'stubborn', { maxAttempts: 2 });
      await waitFor('started', () => runs === 1);
      const t0 = Date.now();
      await stopWorker(w);
      assert.ok(Date.now() - t0 >= 140, 'waited for the grace');
      await waitFor('reported stuck', () => events.some((e) => e.type === 'stuck'));
      // Stop/start the consumer again and again: the held job is never run a second time.
      for (let i = 0; i < 3; i++) {
        const again = q.worker(kind, () => void runs++, opts2);
        await sleep(250); // past a lease: renewals keep it held
        await stopWorker(again);
      }
      const held = (await q.get(job.id))!;
      assert.equal(held.state, 'running');
      assert.equal(held.attempts, 1);
      assert.equal(runs, 1, 'no second run while the first has not settled');
      finish();
      await waitFor('recorded once it settles', async () => (await q.get(job.id))?.state === 'done');
      off();
    });

    test('counts by state and kind, cancel, and pruning finished jobs', async () => {
      const kind = kindOf('ops');
      const [a, b, c] = await q.addMany([{ kind, payload: 1 }, { kind, payload: 2 }, { kind, payload: 3, options: { delayMs: 60_000 } }]);
      assert.equal((await q.cancel(c!.id))?.state, 'cancelled');
      const w = q.worker(kind, () => {}, { pollMs: 50 });
      await waitFor('two done', async () => (await q.counts()).byKind[kind]?.done === 2);
      await stopWorker(w);
      const counts = await q.counts();
      assert.deepEqual(counts.byKind[kind], { pending: 0, running: 0, done: 2, failed: 0, cancelled: 1 });
      assert.ok(counts.total.done >= 2);
      assert.equal((await q.cancel(a!.id))?.state, 'done', 'a finished job cannot be cancelled');
      assert.equal(await q.cancel('424242424'), null);
      assert.equal((await q.retry(c!.id))?.state, 'pending', 'a cancelled job can be retried');
      await q.cancel(c!.id);
      await sleep(30);
      const removed = await q.prune({ olderThanMs: 10 });
      assert.ok(removed >= 3, `removed ${removed}`);
      assert.equal(await q.get(a!.id), null);
      assert.equal(await q.get(b!.id), null);
      assert.equal(await q.get(c!.id), null);
    });

    test('job events report start latency, done and error durations', async () => {
      const kind = kindOf('events');
      const events: JobEvent[] = [];
      const off = q.onEvent((e) => e.job.kind === kind && events.push(e));
      const w = q.worker(kind, async (job) => {
        await sleep(20);
        if (job.payload === 'bad') throw new Error('bad job');
      }, { pollMs: 50 });
      await q.add(kind, 'good');
      await q.add(kind, 'bad', { maxAttempts: 1 });
      await waitFor('four events', () => events.length === 4);
      await stopWorker(w);
      off();
      const types = events.map((e) => e.type).sort();
      assert.deepEqual(types, ['done', 'error', 'start', 'start']);
      for (const e of events) {
        if (e.type === 'start') assert.ok(e.latencyMs >= 0 && e.latencyMs < 5000);
        if (e.type === 'done' || e.type === 'error') assert.ok(e.durationMs >= 15, `duration ${e.durationMs}`);
      }
    });

    test('lease: one holder at a time; stopping the holder hands over to the other contender', async () => {
      const name = kindOf('lease');
      const holding = new Set<string>();
      let overlap = false;
      const contender = (id: string) =>
        q.lease(name, { ttlMs: 300 }, () =>
          startWorker(async (signal) => {
            if (holding.size > 0) overlap = true;
            holding.add(id);
            await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
            holding.delete(id);
          }),
        );
      const a = contender('a');
      const b = contender('b');
      await waitFor('someone holds', () => holding.size === 1);
      await sleep(400);
      assert.equal(holding.size, 1);
      const first = [...holding][0]!;
      const t0 = Date.now();
      await stopWorker(first === 'a' ? a : b);
      await waitFor('handover', () => holding.size === 1 && !holding.has(first), 5000);
      assert.ok(Date.now() - t0 < 1500, 'a released lease is taken within a renewal');
      await Promise.all([stopWorker(a), stopWorker(b)]);
      assert.equal(overlap, false);
    });

    test('lease: a child that stops by itself stops the lease worker with its result', async () => {
      const name = kindOf('lease-child');
      const l = q.lease(name, { ttlMs: 300 }, () => startWorker(async () => {
        throw new Error('child broke');
      }));
      await assert.rejects(l.wait(), /child broke/);
      const l2 = q.lease(name, { ttlMs: 300 }, () => noopWorker());
      await sleep(50);
      await stopWorker(l2);
    });
  });
}

// The behavioural suite every store must pass (memory, PGlite, PostgreSQL), in one process.
// Each test uses its own job kinds and keys, so tests share one open queue per store.
// Real time is short and bounded here (leases of a few hundred ms); waits are on conditions.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopWorker, startWorker, noopWorker, type Worker } from '../../src/core/index.js';
import { InvalidPayloadError, JobQueue, TimeoutError, type Job, type JobEvent, type Store } from '../../src/queue/index.js';
import { waitFor } from './helpers.js';

export interface SuiteOptions {
  /** Jobs in the "many jobs, four consumers" test. */
  manyJobs: number;
}

let seq = 0;
const kindOf = (what: string) => `${what}-${process.pid}-${++seq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function queueSuite(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
  opts: SuiteOptions,
): void {
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
      await assert.rejects(
        q.addMany([
          { kind, payload: 1 },
          { kind, payload: Symbol('x') },
        ]),
        /addMany item 1/,
      );
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
      assert.deepEqual(seen.map((p) => JSON.stringify(p)).sort(), ['4', '6', '{"v":1}']);
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
      assert.ok(
        [...runs.values()].every((n) => n === 1),
        'no job ran twice',
      );
    });

    test('batchSize above concurrency claims ahead: concurrency still holds, and a kill releases what never started', async () => {
      const kind = kindOf('ahead');
      let now = 0;
      let peak = 0;
      let gate!: () => void;
      const blocked = new Promise<void>((r) => (gate = r));
      const runs = new Map<string, number>();
      const w = q.worker(
        kind,
        async (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          peak = Math.max(peak, ++now);
          await blocked;
          now--;
        },
        { concurrency: 2, batchSize: 6, pollMs: 50 },
      );
      const jobs = await q.addMany(Array.from({ length: 10 }, (_, i) => ({ kind, payload: i })));
      // Claimed is not yet started: the handlers begin a turn after the claim returns.
      await waitFor('two running, four claimed ahead', async () => (await q.counts()).byKind[kind]?.running === 6 && runs.size === 2);
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
      const w2 = q.worker(
        kind,
        async (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          peak = Math.max(peak, ++now);
          await sleep(5);
          now--;
        },
        { concurrency: 2, batchSize: 6, pollMs: 50 },
      );
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
      assert.deepEqual(
        list.map((j) => j.id),
        [job.id],
      );
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
      const w = q.worker(
        kind,
        () => {
          runs++;
          throw new Error('only once');
        },
        { pollMs: 50, backoff: { initialMs: 10 } },
      );
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
      const w1 = q.worker(
        kind,
        async () => {
          runs++;
          await sleep(1200);
        },
        opts2,
      );
      const w2 = q.worker(
        kind,
        async () => {
          runs++;
          await sleep(1200);
        },
        opts2,
      );
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
      const {
        claims: [claim],
      } = await store.claim(kind, 1, 1, 300, 'dead-consumer');
      assert.equal(claim?.job.id, job.id);
      const seen: Job[] = [];
      const w = q.worker(kind, (j) => void seen.push(j), { leaseMs: 300, pollMs: 100 });
      await waitFor('redelivered', () => seen.length === 1, 10_000);
      await stopWorker(w);
      assert.equal(seen[0]!.attempts, 2);
      assert.equal((await store.completeMany([claim!.job], 'dead-consumer')).done.size, 0, 'the dead claim cannot acknowledge');
      assert.equal((await q.get(job.id))!.state, 'done');
    });

    test('killing a worker aborts handlers; an abort uses no attempt and the job is pending at once', async () => {
      const kind = kindOf('kill');
      let started = 0;
      const w = q.worker(
        kind,
        (_job, signal) => {
          started++;
          return new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        },
        { concurrency: 2, pollMs: 50 },
      );
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
      const w = q.worker(
        kind,
        () => {
          runs++;
          return new Promise<void>((r) => (finish = r));
        },
        opts2,
      );
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
      const [a, b, c] = await q.addMany([
        { kind, payload: 1 },
        { kind, payload: 2 },
        { kind, payload: 3, options: { delayMs: 60_000 } },
      ]);
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
      const w = q.worker(
        kind,
        async (job) => {
          await sleep(20);
          if (job.payload === 'bad') throw new Error('bad job');
        },
        { pollMs: 50 },
      );
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

    test('every store refuses the same bad input, with an error naming the field, before the database sees it', async () => {
      const kind = kindOf('valid');
      const lone = 'a\uD800b';
      const payloadCases: [unknown, string][] = [
        [{ s: 'nul\u0000here' }, 'payload.s'],
        [{ s: lone }, 'payload.s'],
        [['ok', 'x\uDC00'], 'payload[1]'],
        [{ ['k\u0000']: 1 }, 'payload["k\\u0000"]'],
      ];
      for (const [payload, path] of payloadCases) {
        await assert.rejects(q.add(kind, payload), (err: unknown) => {
          assert.ok(err instanceof InvalidPayloadError, String(err));
          assert.equal(err.path, path);
          return true;
        });
      }
      let deep: unknown = 1;
      for (let i = 0; i < 10_000; i++) deep = [deep];
      await assert.rejects(
        q.add(kind, deep),
        (err: unknown) => err instanceof InvalidPayloadError && /nests deeper than 1000/.test(err.message),
      );
      const fieldCases: [() => Promise<unknown>, RegExp][] = [
        [() => q.add(`${kind}\u0000`, 1), /job kind contains U\+0000/],
        [() => q.add(`${kind}\uD800`, 1), /job kind contains a lone UTF-16 surrogate/],
        [() => q.add(kind, 1, { key: 'k\u0000' }), /key contains U\+0000/],
        [() => q.add(kind, 1, { key: 'k\uDBFF' }), /key contains a lone/],
        [() => q.add(kind, 1, { key: 'k'.repeat(1001) }), /key must be at most 1000 bytes/],
        [() => q.add(kind, 1, { queue: 'q\u0000' }), /queue contains U\+0000/],
        [() => q.add(kind, 1, { priority: 2 ** 31 }), /priority must be an integer from -2147483648 to 2147483647/],
        [() => q.add(kind, 1, { priority: -(2 ** 31) - 1 }), /priority must be an integer/],
        [() => q.add(kind, 1, { maxAttempts: 2 ** 31 }), /maxAttempts must be an integer from 1/],
        [() => q.add(kind, 1, { runAt: 1e16 }), /runAt must lie between years 1000 and 9999/],
        [() => q.add(kind, 1, { runAt: new Date(NaN) }), /runAt must be a valid Date/],
        [() => q.add(kind, 1, { runAt: new Date(-8.64e15) }), /runAt must lie between years 1000 and 9999/],
        [() => q.add(kind, 1, { runAt: Date.UTC(10000, 0, 1) }), /runAt must lie between years 1000 and 9999/],
        [() => q.add(kind, 1, { runAt: Date.UTC(999, 11, 31) }), /runAt must lie between years 1000 and 9999/],
        [() => q.add(kind, 1, { delayMs: 1e300 }), /delayMs must be a number of ms from 0/],
        [() => q.prune({ olderThanMs: -1 }), /olderThanMs >= 0/],
      ];
      for (const [call, message] of fieldCases) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof RangeError || err instanceof TypeError, `${String(err)} is a ${(err as Error).constructor.name}`);
          assert.match((err as Error).message, message);
          return true;
        });
      }
      assert.equal((await q.counts()).byKind[kind], undefined, 'nothing was added');
      // the limits themselves are accepted and round-trip
      let nested: unknown = 'leaf';
      for (let i = 0; i < 999; i++) nested = { n: nested };
      const edge = await q.add(kind, nested, {
        priority: 2 ** 31 - 1,
        maxAttempts: 2 ** 31 - 1,
        key: `${kind}${'k'.repeat(1000 - kind.length)}`,
        runAt: Date.UTC(9999, 0, 1),
      });
      assert.deepEqual((await q.get(edge.id))!.payload, nested);
      assert.equal(edge.priority, 2 ** 31 - 1);
      const early = await q.add(kind, 'é\uD83D\uDE00', { runAt: new Date('1000-01-01T00:00:00Z'), priority: -(2 ** 31) });
      assert.equal(early.runAt.getTime(), new Date('1000-01-01T00:00:00Z').getTime());
      assert.equal(early.payload, 'é\uD83D\uDE00', 'a surrogate pair is fine');
      await q.cancel(edge.id);
      await q.cancel(early.id);
      // ids no store can hold are simply not there
      for (const id of ['9223372036854775808', '99999999999999999999', '0', '01', '-1', 'abc', '', '1.5']) {
        assert.equal(await q.get(id), null, id);
        assert.equal(await q.retry(id), null, id);
        assert.equal(await q.cancel(id), null, id);
      }
      assert.equal(await q.get('9223372036854775807'), null);
      assert.equal(await q.prune({ olderThanMs: 1e300 }), 0);
      assert.equal(await q.prune({ olderThanMs: Infinity }), 0);
    });

    test('a handler error holding U+0000 or a lone surrogate is recorded, and the consumer goes on', async () => {
      const kind = kindOf('nul-error');
      const seen: unknown[] = [];
      const w = q.worker(
        kind,
        (job) => {
          seen.push(job.payload);
          if (job.payload === 'bad') throw new Error('bad \u0000 byte and \uD800 half');
        },
        { pollMs: 50 },
      );
      const bad = await q.add(kind, 'bad', { maxAttempts: 1 });
      const good = await q.add(kind, 'good');
      await waitFor('both settled', async () => (await q.get(bad.id))?.state === 'failed' && (await q.get(good.id))?.state === 'done');
      const failed = (await q.get(bad.id))!;
      assert.match(failed.lastError!, /bad \\0 byte and \uFFFD half/);
      assert.equal(failed.attempts, 1);
      assert.deepEqual(seen, ['bad', 'good']);
      await stopWorker(w);
    });

    test('a job that succeeds after failing keeps no lastError', async () => {
      const kind = kindOf('clear-error');
      let n = 0;
      const w = q.worker(
        kind,
        () => {
          if (++n === 1) throw new Error('first time');
        },
        { pollMs: 20, backoff: { initialMs: 10, jitter: 0 } },
      );
      const job = await q.add(kind, null);
      await waitFor('done', async () => (await q.get(job.id))?.state === 'done');
      const done = (await q.get(job.id))!;
      assert.equal(done.attempts, 2);
      assert.equal(done.lastError, undefined);
      await stopWorker(w);
    });

    test('timeoutMs aborts a handler with TimeoutError and fails that attempt; it is retried', async () => {
      const kind = kindOf('timeout');
      const reasons: unknown[] = [];
      const w = q.worker(
        kind,
        (job, signal) =>
          new Promise<void>((resolve, reject) => {
            if (job.attempts === 2) return resolve();
            signal.addEventListener(
              'abort',
              () => {
                reasons.push(signal.reason);
                reject(signal.reason);
              },
              { once: true },
            );
          }),
        { pollMs: 20, timeoutMs: 80, backoff: { initialMs: 10, jitter: 0 } },
      );
      const job = await q.add(kind, null, { maxAttempts: 2 });
      await waitFor('done on the second attempt', async () => (await q.get(job.id))?.state === 'done');
      assert.equal(reasons.length, 1);
      assert.ok(reasons[0] instanceof TimeoutError, String(reasons[0]));
      assert.equal((await q.get(job.id))!.attempts, 2);
      const once = await q.add(kind, null, { maxAttempts: 1 });
      await waitFor('failed', async () => (await q.get(once.id))?.state === 'failed');
      assert.match((await q.get(once.id))!.lastError!, /TimeoutError: job \d+ .* still running after timeoutMs 80/);
      await stopWorker(w);
    });

    test('a handler that ignores its timeout keeps its job: no second run until it settles, then the attempt fails', async () => {
      const kind = kindOf('timeout-stuck');
      let live = 0;
      let peak = 0;
      let runs = 0;
      let release!: () => void;
      const stubborn = new Promise<void>((r) => (release = r));
      const handler = async (job: Job) => {
        runs++;
        peak = Math.max(peak, ++live);
        if (job.attempts === 1) await stubborn; // ignores the abort
        live--;
      };
      const opts2 = { pollMs: 20, leaseMs: 150, timeoutMs: 50, graceMs: 50, backoff: { initialMs: 10, jitter: 0 } };
      const events: JobEvent[] = [];
      const off = q.onEvent((e) => e.job.kind === kind && events.push(e));
      const w1 = q.worker(kind, handler, opts2);
      const w2 = q.worker(kind, handler, opts2);
      const job = await q.add(kind, null, { maxAttempts: 2 });
      await waitFor('reported stuck', () => events.some((e) => e.type === 'stuck'));
      await sleep(400); // several leases: renewed, not reclaimed
      assert.equal(runs, 1);
      assert.equal((await q.get(job.id))!.state, 'running');
      release();
      await waitFor('second attempt done', async () => (await q.get(job.id))?.state === 'done');
      assert.equal(runs, 2);
      assert.equal(peak, 1, 'never two handlers of the job at once');
      const e = events.find((x) => x.type === 'error');
      assert.ok(e && e.type === 'error' && e.error instanceof TimeoutError);
      off();
      await Promise.all([stopWorker(w1), stopWorker(w2)]);
    });

    test('a consumer whose handler blocks the event loop past its lease does not reclaim its own running job', async () => {
      const kind = kindOf('blocked');
      const runs = new Map<string, number>();
      const w = q.worker(
        kind,
        async (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          if (job.payload === 'block') {
            await sleep(5);
            const until = Date.now() + 450;
            while (Date.now() < until) {
              // a synchronous stall, longer than the lease: the consumer's timers fire late
            }
            await sleep(30);
          }
        },
        { concurrency: 2, leaseMs: 150, pollMs: 20 },
      );
      const blocker = await q.add(kind, 'block');
      await waitFor('blocker ran', () => runs.has(blocker.id));
      const other = await q.add(kind, 'other');
      await waitFor('both done', async () => (await q.get(blocker.id))?.state === 'done' && (await q.get(other.id))?.state === 'done');
      await sleep(100);
      assert.equal(runs.get(blocker.id), 1, 'the stalled job ran once');
      assert.equal((await q.get(blocker.id))!.attempts, 1);
      await stopWorker(w);
    });

    test('jobs claimed ahead by a consumer that died are given back without using an attempt', async () => {
      const kind = kindOf('ahead-dead');
      const jobs = await q.addMany(Array.from({ length: 20 }, (_, i) => ({ kind, payload: i, options: { maxAttempts: 1 } })));
      // A consumer that claims 20, starts 1, then dies silently.
      const { claims } = await store.claim(kind, 20, 1, 200, 'dead-consumer');
      assert.equal(claims.length, 20);
      assert.deepEqual(
        claims.map((c) => c.job.attempts),
        Array(20).fill(1),
        'claimed: an attempt counted for each',
      );
      const seen: Job[] = [];
      const w = q.worker(kind, (j) => void seen.push(j), { leaseMs: 200, pollMs: 50, concurrency: 4 });
      await waitFor('19 run again', () => seen.length === 19, 10_000);
      await sleep(100);
      await stopWorker(w);
      const first = (await q.get(jobs[0]!.id))!;
      assert.equal(first.state, 'failed', 'the started one used its only attempt');
      assert.match(first.lastError!, /lease expired/);
      for (const j of seen) assert.equal(j.attempts, 1);
      for (const j of jobs.slice(1)) {
        const got = (await q.get(j.id))!;
        assert.equal(got.state, 'done');
        assert.equal(got.lastError, undefined);
      }
    });

    test('named queues: one job of a queue at a time, in add order, across consumers and kinds', async () => {
      const kindA = kindOf('nq-a');
      const kindB = kindOf('nq-b');
      const queues = [kindOf('queue'), kindOf('queue'), kindOf('queue')];
      const log = new Map<string, number[]>();
      const live = new Map<string, number>();
      let overlap = '';
      const handler = async (job: Job<{ q: string; i: number }>) => {
        const { q: name, i } = job.payload;
        if ((live.get(name) ?? 0) > 0) overlap = `${name} job ${i}`;
        live.set(name, 1);
        await sleep(Math.random() * 5);
        (log.get(name) ?? log.set(name, []).get(name)!).push(i);
        live.set(name, 0);
      };
      const workers = [
        ...[0, 1].map(() => q.worker(kindA, handler, { concurrency: 3, pollMs: 20 })),
        ...[0, 1].map(() => q.worker(kindB, handler, { concurrency: 3, pollMs: 20 })),
      ];
      const items = [];
      for (let i = 0; i < 15; i++) {
        for (const name of queues) items.push({ kind: i % 3 === 0 ? kindB : kindA, payload: { q: name, i }, options: { queue: name } });
      }
      const free = await q.addMany(Array.from({ length: 10 }, (_, i) => ({ kind: kindA, payload: { q: `free-${i}`, i } })));
      await q.addMany(items);
      await waitFor(
        'all done',
        async () => {
          const c = await q.counts();
          return (c.byKind[kindA]?.done ?? 0) + (c.byKind[kindB]?.done ?? 0) === 55;
        },
        30_000,
      );
      await Promise.all(workers.map((w) => stopWorker(w)));
      assert.equal(overlap, '', `two jobs of one queue overlapped: ${overlap}`);
      for (const name of queues)
        assert.deepEqual(
          log.get(name),
          Array.from({ length: 15 }, (_, i) => i),
          name,
        );
      assert.equal((await q.get(free[0]!.id))!.queue, undefined);
      const queued = await q.add(kindA, { q: queues[0], i: 99 }, { queue: queues[0] });
      assert.equal(queued.queue, queues[0]);
      await q.cancel(queued.id);
    });

    test('a named queue waits for its first job while that one backs off, and moves on once it ends', async () => {
      const kind = kindOf('nq-retry');
      const name = kindOf('queue');
      const order: string[] = [];
      const w = q.worker(
        kind,
        (job) => {
          order.push(`${String(job.payload)}#${job.attempts}`);
          if (job.payload === 'first' && job.attempts < 3) throw new Error('again');
        },
        { concurrency: 2, pollMs: 20, backoff: { initialMs: 50, jitter: 0 } },
      );
      await q.add(kind, 'first', { queue: name, maxAttempts: 3 });
      await q.add(kind, 'second', { queue: name });
      await waitFor('both done', async () => (await q.counts()).byKind[kind]?.done === 2);
      await stopWorker(w);
      assert.deepEqual(order, ['first#1', 'first#2', 'first#3', 'second#1']);
    });

    test('recurring jobs: schedule stores one, scheduler adds it each tick (runAt the tick), unschedule removes it', async () => {
      const name = kindOf('sched');
      const kind = kindOf('sched-kind');
      await assert.rejects(q.schedule(name, { cron: 'not a cron', kind }), /invalid cron/);
      await assert.rejects(q.schedule(name, { cron: '* * * * * *', kind, timezone: 'Nowhere/City' }), RangeError);
      await assert.rejects(q.schedule('', { cron: '* * * * * *', kind }), TypeError);
      await assert.rejects(q.schedule(name, { cron: '* * * * * *', kind: '' }), TypeError);
      await assert.rejects(q.schedule(name, { cron: '* * * * * *', kind, payload: { d: new Date() } }), InvalidPayloadError);
      await q.schedule(name, { cron: '* * * * * *', kind, payload: { hello: 'tick' } });
      const listed = (await q.schedules()).find((x) => x.name === name)!;
      assert.deepEqual([listed.cron, listed.kind, listed.payload], ['* * * * * *', kind, { hello: 'tick' }]);
      const runAts: number[] = [];
      const w = q.worker(
        kind,
        (job) => {
          assert.deepEqual(job.payload, { hello: 'tick' });
          runAts.push(job.runAt.getTime());
        },
        { pollMs: 50 },
      );
      const s1 = q.scheduler({ pollMs: 200 });
      const s2 = q.scheduler({ pollMs: 200 });
      await waitFor('two ticks', () => runAts.length >= 2, 10_000);
      assert.equal(await q.unschedule(name), true);
      assert.equal(await q.unschedule(name), false);
      await Promise.all([stopWorker(s1), stopWorker(s2)]);
      await sleep(50);
      const n = (await q.counts()).byKind[kind]!;
      await stopWorker(w);
      assert.ok(
        runAts.every((t) => t % 1000 === 0),
        'each job runs at its tick',
      );
      assert.equal(new Set(runAts).size, runAts.length, 'one job per tick, though two schedulers ran');
      assert.equal(n.pending + n.running + n.done, runAts.length + n.pending + n.running);
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
      const l = q.lease(name, { ttlMs: 300 }, () =>
        startWorker(async () => {
          throw new Error('child broke');
        }),
      );
      await assert.rejects(l.wait(), /child broke/);
      const l2 = q.lease(name, { ttlMs: 300 }, () => noopWorker());
      await sleep(50);
      await stopWorker(l2);
    });
  });
}

// bench/queue: bosun's queue against graphile-worker 0.17 and pg-boss 10 on the same
// PostgreSQL, at the same concurrency, in one run, plus bosun on embedded PGlite.
//  - throughput: consumers running, add 20,000 trivial jobs in batches of 1,000 with each
//    library's batch insert, time until every job is acknowledged in the database;
//  - latency: consumers idle, add 300 jobs one at a time 10 ms apart, time from the add call
//    to its handler starting (p50, p99).
// Default settings first (bosun claims at most `concurrency` jobs per query; graphile-worker
// claims one job per query); then both with claim batches of 32 (bosun batchSize, graphile's
// localQueue with completeJobBatchDelay 0). bosun records each job's acknowledgement on its
// own row before reporting it (acks finishing together share a commit, see docs/queue.md);
// pg-boss (work() with a batch of 100) completes a fetched batch in one statement. Every library gets its own schema, dropped
// after. Two more measures (BENCH_PART=throughput,future,idle picks; default all):
//  - future: bosun's claim rate (the throughput run) with BENCH_FUTURE (default 500,000) jobs
//    scheduled a year ahead at a higher priority, against the same run without them;
//  - idle: database transactions per second of 30 idle consumers (bosun: 30 workers of one
//    kind; graphile-worker: concurrency 30), counted in pg_stat_database of a database
//    created for the run (nobody else's traffic), over BENCH_IDLE_MS (default 20,000).
// Run: node build/bench/queue/index.js  [env DATABASE_URL, BENCH_JOBS, BENCH_CONCURRENCY,
// BENCH_ROUNDS, BENCH_ONLY=name,name, BENCH_PART, BENCH_FUTURE, BENCH_IDLE_MS]

import { rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Logger as GraphileLogger, makeWorkerUtils, run as graphileRun } from 'graphile-worker';
import PgBoss from 'pg-boss';
import { JobQueue, pgliteStore, postgresStore } from '../../src/queue/index.js';
import { percentile, report, type Result } from '../harness.js';

const URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const JOBS = Number(process.env['BENCH_JOBS'] ?? 20_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 8);
const LATENCY_JOBS = 300;
const KIND = 'bench';

type Payload = { i: number; lat?: boolean };

interface Contender {
  name: string;
  /** Before consumers start: e.g. fill the queue with future jobs. */
  prepare?(): Promise<void>;
  /** Starts consumers that call `seen(payload)` at handler start. */
  start(seen: (p: Payload) => void): Promise<void>;
  addBatch(payloads: Payload[]): Promise<void>;
  addOne(payload: Payload): Promise<void>;
  /** Jobs not yet acknowledged. */
  remaining(): Promise<number>;
  stop(): Promise<void>;
}

const admin = new pg.Pool({ connectionString: URL, max: 2 });
const count = async (text: string) => Number((await admin.query(text)).rows[0].n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pid = process.pid;

function bosunOnPostgres(batchSize?: number, future = 0): Contender {
  const schema = `bench_bosun_${pid}`;
  let q: JobQueue | undefined;
  const open = async () => (q ??= await JobQueue.open({ store: postgresStore({ connectionString: URL, schema }) }));
  return {
    name: future > 0 ? `bosun with ${future.toLocaleString('en-US')} future jobs` : batchSize ? `bosun batch ${batchSize}` : 'bosun',
    async prepare() {
      if (future === 0) return;
      const qq = await open();
      const yearAhead = Date.now() + 365 * 86_400_000;
      for (let i = 0; i < future; i += 10_000) {
        const n = Math.min(10_000, future - i);
        await qq.addMany(
          Array.from({ length: n }, (_, k) => ({
            kind: KIND,
            payload: { i: -1 - i - k },
            options: { priority: 1, runAt: yearAhead + i + k },
          })),
        );
      }
      await admin.query(`ANALYZE ${schema}.jobs`);
    },
    async start(seen) {
      const q = await open();
      q.worker<Payload>(KIND, (job) => seen(job.payload), { concurrency: CONCURRENCY, pollMs: 1000, ...(batchSize ? { batchSize } : {}) });
    },
    addBatch: async (ps) => void (await q!.addMany(ps.map((payload) => ({ kind: KIND, payload })))),
    addOne: async (p) => void (await q!.add(KIND, p)),
    // due jobs not yet done (the future ones are 'scheduled')
    remaining: () => count(`SELECT count(*) AS n FROM ${schema}.jobs WHERE state IN ('pending', 'running')`),
    async stop() {
      await q?.close();
      q = undefined;
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

function bosunOnPglite(): Contender {
  let q: JobQueue;
  let dir: string;
  return {
    name: 'bosun-pglite',
    async start(seen) {
      dir = await mkdtemp(join(tmpdir(), 'bosun-bench-'));
      q = await JobQueue.open({ store: pgliteStore(dir) });
      q.worker<Payload>(KIND, (job) => seen(job.payload), { concurrency: CONCURRENCY, pollMs: 1000 });
    },
    addBatch: async (ps) => void (await q.addMany(ps.map((payload) => ({ kind: KIND, payload })))),
    addOne: async (p) => void (await q.add(KIND, p)),
    remaining: async () => {
      const c = (await q.counts()).byKind[KIND];
      return c ? c.pending + c.running : 0;
    },
    async stop() {
      await q.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function graphile(batchSize?: number): Contender {
  const schema = `bench_graphile_${pid}`;
  const logger = new GraphileLogger(() => () => {});
  let runner: Awaited<ReturnType<typeof graphileRun>>;
  let utils: Awaited<ReturnType<typeof makeWorkerUtils>>;
  return {
    name: batchSize ? `graphile-worker batch ${batchSize}` : 'graphile-worker',
    async start(seen) {
      utils = await makeWorkerUtils({ connectionString: URL, schema, logger });
      await utils.migrate();
      runner = await graphileRun({
        connectionString: URL,
        schema,
        logger,
        concurrency: CONCURRENCY,
        noHandleSignals: true,
        pollInterval: 1000,
        taskList: { [KIND]: async (payload) => seen(payload as Payload) },
        // its batching: a local queue of locked jobs, and completions batched with no delay
        ...(batchSize ? { preset: { worker: { localQueue: { size: batchSize }, completeJobBatchDelay: 0 } } } : {}),
      });
    },
    addBatch: async (ps) => void (await utils.addJobs(ps.map((payload) => ({ identifier: KIND, payload })))),
    addOne: async (p) => void (await utils.addJob(KIND, p)),
    remaining: () => count(`SELECT count(*) AS n FROM ${schema}._private_jobs`),
    async stop() {
      await runner.stop();
      await utils.release();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

function pgBoss(): Contender {
  const schema = `bench_pgboss_${pid}`;
  let boss: PgBoss;
  return {
    name: 'pg-boss',
    async start(seen) {
      boss = new PgBoss({ connectionString: URL, schema, max: CONCURRENCY + 2, supervise: false, schedule: false });
      boss.on('error', () => {});
      await boss.start();
      await boss.createQueue(KIND);
      for (let i = 0; i < CONCURRENCY; i++) {
        await boss.work<Payload>(KIND, { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
          for (const j of jobs) seen(j.data);
        });
      }
    },
    addBatch: (ps) => boss.insert(ps.map((data) => ({ name: KIND, data }))),
    addOne: async (p) => void (await boss.send(KIND, p)),
    remaining: () => count(`SELECT count(*) AS n FROM ${schema}.job WHERE state < 'completed'`),
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 5000 });
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

async function measure(c: Contender): Promise<Result> {
  let started = 0;
  const latStarts = new Map<number, number>();
  await c.prepare?.();
  await c.start((p) => {
    if (p.lat) latStarts.set(p.i, performance.now());
    else started++;
  });
  try {
    // throughput
    const t0 = performance.now();
    for (let i = 0; i < JOBS; i += 1000) {
      await c.addBatch(Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({ i: i + k })));
    }
    const limit = performance.now() + 180_000;
    const check = (what: string) => {
      if (performance.now() > limit) throw new Error(`${c.name}: gave up waiting for ${what} (started ${started}/${JOBS})`);
    };
    while (started < JOBS) {
      check('handlers');
      await sleep(5);
    }
    while ((await c.remaining()) > 0) {
      check('acknowledgements');
      await sleep(5);
    }
    const ms = performance.now() - t0;
    // latency, with idle consumers
    const addedAt = new Map<number, number>();
    for (let i = 0; i < LATENCY_JOBS; i++) {
      addedAt.set(i, performance.now());
      await c.addOne({ i, lat: true });
      await sleep(10);
    }
    const deadline = performance.now() + 30_000;
    while (latStarts.size < LATENCY_JOBS && performance.now() < deadline) await sleep(10);
    const lat = [...latStarts].map(([i, t]) => t - addedAt.get(i)!);
    return {
      name: c.name,
      ops: JOBS,
      ms,
      opsPerSec: (JOBS / ms) * 1000,
      p50Ms: percentile(lat, 0.5),
      p99Ms: percentile(lat, 0.99),
      extra: { concurrency: CONCURRENCY, latencySamples: lat.length },
    };
  } finally {
    await c.stop();
  }
}

const only = process.env['BENCH_ONLY']?.split(',');
const parts = (process.env['BENCH_PART'] ?? 'throughput,future,idle').split(',');
const BATCH = 32;
const FUTURE = Number(process.env['BENCH_FUTURE'] ?? 500_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);

/** Runs every contender ROUNDS times, interleaved, keeping each one's best round (by throughput). */
async function bestOf(makers: (() => Contender)[]): Promise<Result[]> {
  const best = new Map<string, Result>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const make of makers) {
      const c = make();
      if (only && !only.includes(c.name)) continue;
      console.error(`round ${round + 1}/${ROUNDS}: ${c.name}`);
      try {
        const r = await measure(c);
        const prev = best.get(c.name);
        if (!prev || r.opsPerSec > prev.opsPerSec) best.set(c.name, r);
      } catch (err) {
        console.error(`${c.name} failed:`, err);
      }
    }
  }
  return [...best.values()];
}

function ratios(results: Result[], pairs: readonly (readonly [string, string])[]): void {
  const by = (n: string) => results.find((r) => r.name === n);
  for (const [mine, peer] of pairs) {
    const a = by(mine);
    const b = by(peer);
    if (a && b)
      console.log(
        `${mine} / ${peer}: throughput x${(a.opsPerSec / b.opsPerSec).toFixed(2)}, p50 ${a.p50Ms!.toFixed(2)} ms vs ${b.p50Ms!.toFixed(2)} ms`,
      );
  }
}

if (parts.includes('throughput')) {
  const results = await bestOf([
    () => bosunOnPostgres(),
    () => graphile(),
    pgBoss,
    () => bosunOnPostgres(BATCH),
    () => graphile(BATCH),
    bosunOnPglite,
  ]);
  report(
    `queue: add then process ${JOBS.toLocaleString('en-US')} jobs, concurrency ${CONCURRENCY}, best of ${ROUNDS}; latency add -> handler start`,
    results,
    'graphile-worker',
  );
  ratios(results, [
    ['bosun', 'graphile-worker'],
    ['bosun', 'pg-boss'],
    [`bosun batch ${BATCH}`, `graphile-worker batch ${BATCH}`],
    [`bosun batch ${BATCH}`, 'pg-boss'],
  ]);
}

if (parts.includes('future')) {
  const withName = `bosun with ${FUTURE.toLocaleString('en-US')} future jobs`;
  const results = await bestOf([() => bosunOnPostgres(), () => bosunOnPostgres(undefined, FUTURE)]);
  report(
    `queue: claim rate of ${JOBS.toLocaleString('en-US')} due priority-0 jobs, with and without ${FUTURE.toLocaleString('en-US')} jobs a year ahead at priority 1`,
    results,
    'bosun',
  );
  const a = results.find((r) => r.name === 'bosun');
  const b = results.find((r) => r.name === withName);
  if (a && b) console.log(`without / with future jobs: x${(a.opsPerSec / b.opsPerSec).toFixed(2)} (goal <= 1.2)`);
}

if (parts.includes('idle')) {
  const IDLE_MS = Number(process.env['BENCH_IDLE_MS'] ?? 20_000);
  const dbName = `bench_idle_${pid}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new globalThis.URL(URL);
  dbUrl.pathname = `/${dbName}`;
  const idleUrl = dbUrl.toString();
  const xacts = async () => {
    const r = await admin.query(`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1`, [dbName]);
    return Number(r.rows[0].n);
  };
  /** Transactions per second while `start()`'s consumers sit idle; `stop()` closes them (flushing their stats). */
  const idleLoad = async (name: string, start: () => Promise<() => Promise<void>>) => {
    const stop = await start();
    // A backend flushes its counters at most once a second, an idle one after 10 s, and on
    // exit: wait out start-up's flushes, read, idle, stop (every backend exits and flushes),
    // then read again.
    await sleep(11_000);
    const before = await xacts();
    const t0 = performance.now();
    await sleep(IDLE_MS);
    const ms = performance.now() - t0;
    await stop();
    await sleep(1500);
    const n = (await xacts()) - before - 1; // less our own read
    console.log(`${name}: ${(n / (ms / 1000)).toFixed(1)} transactions/s with 30 idle consumers (${n} in ${(ms / 1000).toFixed(1)} s)`);
    return n / (ms / 1000);
  };
  try {
    const mine = await idleLoad('bosun (30 workers, pollMs 1000)', async () => {
      const q = await JobQueue.open({ store: postgresStore({ connectionString: idleUrl, schema: 'idle' }) });
      for (let i = 0; i < 30; i++) q.worker(KIND, () => {}, { pollMs: 1000 });
      return () => q.close();
    });
    const theirs = await idleLoad('graphile-worker (concurrency 30, pollInterval 1000)', async () => {
      const logger = new GraphileLogger(() => () => {});
      const utils = await makeWorkerUtils({ connectionString: idleUrl, schema: 'idle_graphile', logger });
      await utils.migrate();
      const runner = await graphileRun({
        connectionString: idleUrl,
        schema: 'idle_graphile',
        logger,
        concurrency: 30,
        noHandleSignals: true,
        pollInterval: 1000,
        taskList: { [KIND]: async () => {} },
      });
      return async () => {
        await runner.stop();
        await utils.release();
      };
    });
    console.log(`idle load bosun / graphile-worker: x${(mine / theirs).toFixed(2)} (goal <= 1)`);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
}
await admin.end();

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
// after. Run: node build/bench/queue/index.js  [env DATABASE_URL, BENCH_JOBS, BENCH_CONCURRENCY,
// BENCH_ROUNDS, BENCH_ONLY=name,name]

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

function bosunOnPostgres(batchSize?: number): Contender {
  const schema = `bench_bosun_${pid}`;
  let q: JobQueue;
  return {
    name: batchSize ? `bosun batch ${batchSize}` : 'bosun',
    async start(seen) {
      q = await JobQueue.open({ store: postgresStore({ connectionString: URL, schema }) });
      q.worker<Payload>(KIND, (job) => seen(job.payload), { concurrency: CONCURRENCY, pollMs: 1000, ...(batchSize ? { batchSize } : {}) });
    },
    addBatch: async (ps) => void (await q.addMany(ps.map((payload) => ({ kind: KIND, payload })))),
    addOne: async (p) => void (await q.add(KIND, p)),
    remaining: () => count(`SELECT count(*) AS n FROM ${schema}.jobs WHERE state IN ('pending', 'running')`),
    async stop() {
      await q.close();
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
const BATCH = 32;
const makers = [() => bosunOnPostgres(), () => graphile(), pgBoss, () => bosunOnPostgres(BATCH), () => graphile(BATCH), bosunOnPglite];

// The machine may be busy: run every contender ROUNDS times, interleaved, and keep each one's
// best round (by throughput), so a noisy moment does not decide a ratio.
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
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
const results = [...best.values()];
await admin.end();
report(`queue: add then process ${JOBS.toLocaleString('en-US')} jobs, concurrency ${CONCURRENCY}, best of ${ROUNDS}; latency add -> handler start`, results, 'graphile-worker');
const by = (n: string) => results.find((r) => r.name === n);
const pairs = [
  ['bosun', 'graphile-worker'],
  ['bosun', 'pg-boss'],
  [`bosun batch ${BATCH}`, `graphile-worker batch ${BATCH}`],
  [`bosun batch ${BATCH}`, 'pg-boss'],
] as const;
for (const [mine, peer] of pairs) {
  const a = by(mine);
  const b = by(peer);
  if (a && b) console.log(`${mine} / ${peer}: throughput x${(a.opsPerSec / b.opsPerSec).toFixed(2)}, p50 ${a.p50Ms!.toFixed(2)} ms vs ${b.p50Ms!.toFixed(2)} ms`);
}

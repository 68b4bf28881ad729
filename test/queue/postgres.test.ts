// The behavioural suite on the real PostgreSQL (DATABASE_URL), in a schema of its own that
// is dropped after. A missing server fails these tests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { JobQueue, postgresStore } from '../../src/queue/index.js';
import { queueSuite } from './suite.js';
import { DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js';

queueSuite(
  'postgresStore',
  async () => {
    const schema = uniqueSchema('suite');
    return { store: postgresStore({ connectionString: DATABASE_URL, schema }), cleanup: () => dropSchema(schema) };
  },
  { manyJobs: 4000 },
);

test('a claim reads as few buffers with 5,000 future jobs of a higher priority as without them', async () => {
  const schema = uniqueSchema('claimcost');
  const q = await JobQueue.open({ store: postgresStore({ connectionString: DATABASE_URL, schema }) });
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    await c.query('SET stats_fetch_consistency = none');
    const blocks = async () => {
      await c.query('SELECT pg_stat_force_next_flush()');
      const r = await c.query(
        `SELECT coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0) + coalesce(idx_blks_hit, 0) + coalesce(idx_blks_read, 0) AS n
         FROM pg_statio_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
        [schema],
      );
      return Number(r.rows[0].n);
    };
    /** Buffers touched per claim of one due priority-0 job, over 30 claims. */
    const perClaim = async () => {
      await q.addMany(Array.from({ length: 30 }, (_, i) => ({ kind: 'due', payload: i })));
      const before = await blocks();
      for (let i = 0; i < 30; i++) await c.query(`SELECT "${schema}".claim('due', 1, 1, 'probe', 60000)`);
      return ((await blocks()) - before) / 30;
    };
    const without = await perClaim();
    for (let i = 0; i < 5; i++) {
      await q.addMany(
        Array.from({ length: 1000 }, (_, k) => ({ kind: 'due', payload: k, options: { priority: 1, delayMs: 365 * 86_400_000 } })),
      );
    }
    await c.query(`ANALYZE "${schema}".jobs`);
    const withFuture = await perClaim();
    assert.ok(withFuture <= without * 1.5 + 3, `${withFuture} buffers per claim with 5,000 future jobs, ${without} without`);
  } finally {
    await c.end();
    await q.close();
    await dropSchema(schema);
  }
});

test('database errors come out as StoreError, saying whether they may heal', async () => {
  const { StoreError } = await import('../../src/queue/index.js');
  const unreachable = new URL(DATABASE_URL);
  unreachable.port = '1';
  await assert.rejects(JobQueue.open({ store: postgresStore({ connectionString: unreachable.toString() }) }), (err: unknown) => {
    assert.ok(err instanceof StoreError, `${String(err)} (${(err as Error).constructor.name})`);
    assert.equal(err.code, 'ERR_QUEUE_STORE');
    assert.equal(err.transient, true, 'a server not up yet may come up');
    return true;
  });
  const noDb = new URL(DATABASE_URL);
  noDb.pathname = '/no_such_database_bosun';
  await assert.rejects(JobQueue.open({ store: postgresStore({ connectionString: noDb.toString() }) }), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.sqlState, '3D000');
    assert.equal(err.transient, false, 'a missing database does not heal by waiting');
    return true;
  });
  const schema = uniqueSchema('dropped');
  const q = await JobQueue.open({ store: postgresStore({ connectionString: DATABASE_URL, schema }) });
  await dropSchema(schema);
  await assert.rejects(
    q.add('x', 1),
    (err: unknown) =>
      err instanceof StoreError && err.sqlState === '42P01' && !err.transient && /postgres store: relation/.test(err.message),
  );
  await q.close();
});

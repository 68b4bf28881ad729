// The queue through database outages, on a PostgreSQL cluster of this test's own (never the
// shared server): consumers ride through `pg_ctl restart -m fast` and an outage of seconds by
// themselves, LISTEN comes back however long the outage was (jobs start at once again, not
// at the next poll), and a process whose only work is a consumer stays alive meanwhile.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stopWorker, Supervisor } from '../../src/core/index.js';
import { JobQueue, postgresStore } from '../../src/queue/index.js';
import { Cluster, skipReason } from './cluster.js';
import { waitFor } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/queue-child.js', import.meta.url));
const skip = skipReason();

async function listening(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    const r = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'bosun-queue-listen'`);
    return r.rows[0].n >= 1;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

describe('queue through database outages (own cluster)', { skip }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.create();
  });
  after(async () => {
    await cluster?.destroy();
  });

  test('LISTEN comes back after an outage of seconds: a new job starts at once, not at the next poll', async () => {
    const q = await JobQueue.open({ store: postgresStore({ connectionString: cluster.url, schema: 'listen' }) });
    const started: number[] = [];
    // pollMs of a minute: only a notification can start a job within the test's bounds
    const w = q.worker('ping', () => void started.push(Date.now()), { pollMs: 60_000 });
    await q.add('ping', 0);
    await waitFor('first job', () => started.length === 1);
    await cluster.stop();
    await new Promise((r) => setTimeout(r, 2500));
    await cluster.start();
    await waitFor('LISTEN reconnected', () => listening(cluster.url), 20_000);
    await waitFor('consumer back at its poll wait', () => new Promise((r) => setTimeout(() => r(true), 300)));
    const addedAt = Date.now();
    await q.add('ping', 1);
    await waitFor('second job started by its notification', () => started.length === 2, 20_000);
    assert.ok(started[1]! - addedAt < 30_000, 'well before the 60 s poll');
    await stopWorker(w);
    await q.close();
  });

  test('the Supervisor set-up of docs/queue.md rides through pg_ctl restart -m fast, twice in 5 s, and a 3 s outage', async () => {
    const q = await JobQueue.open({ store: postgresStore({ connectionString: cluster.url, schema: 'restart' }) });
    const done: unknown[] = [];
    const sup = new Supervisor({
      children: [{ id: 'work', start: () => q.worker('job', (job) => void done.push(job.payload), { concurrency: 4, pollMs: 100 }) }],
    });
    let supStopped = false;
    sup.wait().then(
      () => (supStopped = true),
      () => (supStopped = true),
    );
    await q.add('job', 'before');
    await waitFor('first job', () => done.length === 1);
    await cluster.restart();
    await cluster.restart();
    await q.add('job', 'between');
    await waitFor('job after restarts', () => done.length === 2, 20_000);
    await cluster.stop();
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(supStopped, false, 'still supervising during the outage');
    await cluster.start();
    await waitFor(
      'add works again',
      async () => {
        try {
          await q.add('job', 'after');
          return true;
        } catch {
          return false;
        }
      },
      20_000,
    );
    await waitFor('job after the outage', () => done.length === 3, 20_000);
    assert.deepEqual(done, ['before', 'between', 'after']);
    assert.equal(supStopped, false);
    assert.equal(sup.children().find((c) => c.id === 'work')?.restarts ?? 0, 0, 'the consumer itself rode through: no restart');
    await stopWorker(sup);
    await q.close();
  });

  test('a process whose only work is a consumer stays alive through an outage, and works after it', async () => {
    const child = spawn(
      process.execPath,
      [FIXTURE, JSON.stringify({ url: cluster.url, mode: 'consume', schema: 'proc', kind: 'p', pollMs: 100 })],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    let exitCode: number | null | undefined;
    child.once('exit', (code) => (exitCode = code));
    try {
      await waitFor('child ready', () => lines.includes('ready'), 20_000);
      await cluster.stop('immediate');
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(exitCode, undefined, `the child exited (code ${exitCode}) during the outage`);
      await cluster.start();
      const q = await JobQueue.open({ store: postgresStore({ connectionString: cluster.url, schema: 'proc' }) });
      const job = await q.add('p', 1);
      await waitFor('child ran the job', () => lines.includes(`ran ${job.id} 1`), 20_000);
      await q.close();
    } finally {
      child.kill('SIGKILL');
    }
  });
});

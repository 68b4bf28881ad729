// `bosun jobs` and the dashboard's queue page against real queues: a PostgreSQL schema of the
// test's own (dropped after) and a PGlite directory; the compiled CLI as an operator runs it,
// the daemon with `queue:` in its config, and the page in headless Chromium.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopWorker } from '../../src/core/index.js';
import { JobQueue, pgliteStore, postgresStore, type Job } from '../../src/queue/index.js';
import { DATABASE_URL, dropSchema, uniqueSchema } from '../queue/helpers.js';
import { CHROMIUM, launchChromium } from './dashboard-browser.js';
import { cli, prog, startDaemon, tempProject, waitFor } from './helpers.js';

/** Adds two email jobs that fail for good and one that succeeds; returns the failed ones. */
async function seed(q: JobQueue): Promise<Job[]> {
  const bad = await q.addMany([
    { kind: 'email', payload: 1, options: { maxAttempts: 1 } },
    { kind: 'email', payload: 2, options: { maxAttempts: 1 } },
  ]);
  await q.add('email', 3);
  const w = q.worker(
    'email',
    (job) => {
      if (job.payload !== 3) throw new Error(`smtp refused ${String(job.payload)}\n    at send (mail.js:1:1)`);
    },
    { pollMs: 20 },
  );
  await waitFor('seeded', async () => (await q.counts()).byKind['email']?.failed === 2 && (await q.counts()).byKind['email']?.done === 1);
  await stopWorker(w);
  return bad;
}

describe('bosun jobs', () => {
  const schema = uniqueSchema('jobs_cli');
  let q: JobQueue;
  let bad: Job[];
  const db = ['--database', DATABASE_URL, '--schema', schema];
  before(async () => {
    q = await JobQueue.open({ store: postgresStore({ connectionString: DATABASE_URL, schema }) });
    bad = await seed(q);
  });
  after(async () => {
    await q?.close();
    await dropSchema(schema);
  });

  test('counts by kind and state, and failed jobs newest first with their first error line', async () => {
    const counts = await cli(['jobs', ...db]);
    assert.equal(counts.code, 0, counts.stderr);
    assert.match(counts.stdout, /^kind\s+pending\s+running\s+done\s+failed\s+cancelled$/m);
    assert.match(counts.stdout, /^email\s+0\s+0\s+1\s+2\s+0$/m);
    const json = await cli(['jobs', 'counts', '--json', ...db]);
    assert.deepEqual(JSON.parse(json.stdout).byKind.email, { pending: 0, running: 0, done: 1, failed: 2, cancelled: 0 });
    const failed = await cli(['jobs', 'failed', ...db]);
    assert.equal(failed.code, 0);
    const ids = [...failed.stdout.matchAll(/^(\d+)  email  attempts=1\/1/gm)].map((m) => m[1]);
    assert.deepEqual(ids, [bad[1]!.id, bad[0]!.id]);
    assert.match(failed.stdout, /Error: smtp refused 2$/m);
    assert.doesNotMatch(failed.stdout, /mail\.js/, 'only the first line of the error');
    const limited = JSON.parse((await cli(['jobs', 'failed', '--limit', '1', '--json', '--kind', 'email', ...db])).stdout) as Job[];
    assert.equal(limited.length, 1);
  });

  test('retry and cancel change one job, and say plainly when they cannot', async () => {
    const retried = await cli(['jobs', 'retry', bad[0]!.id, ...db]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout.trim(), `job ${bad[0]!.id} (email) is now pending`);
    assert.equal((await q.get(bad[0]!.id))!.state, 'pending');
    const twice = await cli(['jobs', 'retry', bad[0]!.id, ...db]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /is pending; only failed or cancelled jobs can be retried/);
    const cancelled = await cli(['jobs', 'cancel', bad[0]!.id, ...db]);
    assert.equal(cancelled.code, 0);
    assert.equal((await q.get(bad[0]!.id))!.state, 'cancelled');
    const missing = await cli(['jobs', 'cancel', '987654321', ...db]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no job 987654321/);
    assert.equal((await cli(['jobs', 'cancel', '99999999999999999999', ...db])).code, 1);
  });

  test('bad usage exits 2 with a message; an unreachable database exits 1', async () => {
    for (const [args, message] of [
      [['jobs', 'frob', ...db], /unknown action 'frob'/],
      [['jobs', 'retry', ...db], /needs a job id/],
      [['jobs', 'counts', '7', ...db], /takes no id/],
      [['jobs', '--database', DATABASE_URL, '--pglite', '/tmp/x'], /not both/],
      [['jobs', 'failed', '--limit', 'x', ...db], /--limit expects a whole number/],
    ] as const) {
      const r = await cli([...args], { cwd: tmpdir() });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const none = await cli(['jobs'], { cwd: mkdtempSync(join(tmpdir(), 'bosun-nocfg-')) });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /which queue\?/);
    const down = await cli(['jobs', '--database', 'postgres://postgres@127.0.0.1:1/test']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot open the queue/);
  });

  test("a PGlite queue: the config's queue key, and a directory held by another process named", async () => {
    const p = tempProject(`queue: { pglite: ./jobs }\nprograms:\n  a: { command: ${prog()} }\n`);
    try {
      const local = await JobQueue.open({ store: pgliteStore(join(p.dir, 'jobs')) });
      await local.add('thumb', 1);
      const locked = await cli(['jobs'], { cwd: p.dir });
      assert.equal(locked.code, 1);
      assert.match(locked.stderr, new RegExp(`in use by process ${process.pid}`));
      await local.close();
      const r = await cli(['jobs'], { cwd: p.dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^thumb\s+1\s+0\s+0\s+0\s+0$/m);
    } finally {
      p.cleanup();
    }
  });

  test("the config's queue key is validated: exactly one of database or pglite", async () => {
    for (const [yaml, message] of [
      ['queue: {}', /^queue: expected exactly one of database \(a PostgreSQL URL\) or pglite \(a directory\), got neither$/m],
      ['queue: { database: "postgres://x", pglite: ./q }', /^queue: expected exactly one of .* got both$/m],
      ['queue: { pglite: ./q, schema: s }', /^queue\.schema: only with queue\.database/m],
      ['queue: { database: "postgres://x", schema: "a-b" }', /^queue\.schema: expected a plain identifier/m],
      ['queue: { database: 5 }', /^queue\.database: expected a non-empty string, got 5$/m],
      ['queue: { url: x, database: "postgres://x" }', /^queue\.url: unknown key/m],
    ] as const) {
      const p = tempProject(`${yaml}\nprograms:\n  a: { command: ${prog()} }\n`);
      try {
        const r = await cli(['jobs'], { cwd: p.dir });
        assert.equal(r.code, 2, `${yaml}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, message);
      } finally {
        p.cleanup();
      }
    }
  });
});

describe('the dashboard queue page', () => {
  const schema = uniqueSchema('jobs_dash');
  let q: JobQueue;
  let bad: Job[];
  before(async () => {
    q = await JobQueue.open({ store: postgresStore({ connectionString: DATABASE_URL, schema }) });
    bad = await seed(q);
  });
  after(async () => {
    await q?.close();
    await dropSchema(schema);
  });

  test('its data and actions need the token; with it: counts, failed jobs, retry and cancel', async () => {
    const p = tempProject(
      `dashboard: { port: 0 }\nqueue: { database: "${DATABASE_URL}", schema: ${schema} }\nprograms:\n  a: { command: ${prog()} }\n`,
    );
    const d = await startDaemon(p.dir, p.home);
    try {
      const base = d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
      const token = readFileSync(`${p.home}/token`, 'utf8').trim();
      const auth = { authorization: `Bearer ${token}` };
      const page = await fetch(`${base}queue`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /bosun · jobs/);
      assert.equal((await fetch(`${base}api/queue`)).status, 403);
      assert.equal((await fetch(`${base}api/queue`, { headers: { authorization: 'Bearer 00' } })).status, 403);
      assert.equal((await fetch(`${base}api/queue/jobs/${bad[0]!.id}/retry`, { method: 'POST' })).status, 403);
      assert.equal((await q.get(bad[0]!.id))!.state, 'failed', 'nothing changed without the token');
      const data = (await (await fetch(`${base}api/queue`, { headers: auth })).json()) as {
        counts: { byKind: Record<string, Record<string, number>> };
        failed: { id: string; error: string }[];
      };
      assert.equal(data.counts.byKind['email']!['failed'], 2);
      assert.deepEqual(
        data.failed.map((f) => f.id),
        [bad[1]!.id, bad[0]!.id],
      );
      assert.equal(data.failed[0]!.error, 'Error: smtp refused 2');
      const retry = await fetch(`${base}api/queue/jobs/${bad[0]!.id}/retry`, { method: 'POST', headers: auth });
      assert.equal(retry.status, 200);
      assert.equal((await q.get(bad[0]!.id))!.state, 'pending');
      assert.equal((await fetch(`${base}api/queue/jobs/${bad[0]!.id}/retry`, { method: 'POST', headers: auth })).status, 409);
      assert.equal((await fetch(`${base}api/queue/jobs/${bad[0]!.id}/cancel`, { method: 'POST', headers: auth })).status, 200);
      assert.equal((await q.get(bad[0]!.id))!.state, 'cancelled');
      assert.equal((await fetch(`${base}api/queue/jobs/424242/cancel`, { method: 'POST', headers: auth })).status, 404);
      assert.equal((await fetch(`${base}api/queue/jobs/1/cancel`, { headers: auth })).status, 405);
    } finally {
      await d.stop();
      p.cleanup();
    }
  });

  test(
    'in a browser: the page shows the counts and failed jobs, and a click retries one',
    { skip: !existsSync(CHROMIUM) && !process.env.CI && 'no /usr/bin/chromium', timeout: 90_000 },
    async () => {
      const p = tempProject(
        `dashboard: { port: 0 }\nqueue: { database: "${DATABASE_URL}", schema: ${schema} }\nprograms:\n  a: { command: ${prog()} }\n`,
      );
      const d = await startDaemon(p.dir, p.home);
      const { browser, close } = await launchChromium();
      try {
        const base = d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
        const token = readFileSync(`${p.home}/token`, 'utf8').trim();
        const page = await browser.newPage();
        await page.goto(`${base}queue#token=${token}`);
        const row = page.locator(`tr[data-job="${bad[1]!.id}"]`);
        await row.waitFor({ timeout: 15_000 });
        assert.match((await row.textContent()) ?? '', /smtp refused 2/);
        assert.equal(await page.locator('tr[data-kind="email"] [data-state="done"]').textContent(), '1');
        await row.locator('button[data-action="retry"]').click();
        await row.waitFor({ state: 'detached', timeout: 15_000 });
        assert.equal((await q.get(bad[1]!.id))!.state, 'pending');
      } finally {
        await close();
        await d.stop();
        p.cleanup();
      }
    },
  );
});

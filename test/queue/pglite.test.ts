// The behavioural suite on embedded PGlite in a temp dir, and the directory's lock: one
// process at a time, a second opener refused at once naming the holder, a stale lock after
// a SIGKILL taken over with nothing committed lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JobQueue, pgliteStore, StoreLockedError } from '../../src/queue/index.js';
import { queueSuite } from './suite.js';
import { tempDir, waitFor } from './helpers.js';

queueSuite(
  'pgliteStore',
  async () => {
    const { dir, remove } = await tempDir('pglite');
    return { store: pgliteStore(dir), cleanup: remove };
  },
  { manyJobs: 2000 },
);

const HOLDER = fileURLToPath(new URL('./fixtures/pglite-holder.js', import.meta.url));

test('a PGlite directory opens in one process at a time: a second opener gets StoreLockedError naming the holder', async () => {
  const { dir, remove } = await tempDir('pglite-lock');
  try {
    const q = await JobQueue.open({ store: pgliteStore(dir) });
    await assert.rejects(JobQueue.open({ store: pgliteStore(dir) }), (err: unknown) => {
      assert.ok(err instanceof StoreLockedError, String(err));
      assert.equal(err.code, 'ERR_QUEUE_STORE_LOCKED');
      assert.equal(err.pid, process.pid);
      assert.match(err.message, new RegExp(`in use by process ${process.pid} \\(this process\\)`));
      return true;
    });
    await q.add('still-works', 1);
    await q.close();
    const again = await JobQueue.open({ store: pgliteStore(dir) });
    assert.equal((await again.counts()).total.pending, 1, 'closed, then reopened with its job');
    await again.close();
  } finally {
    await remove();
  }
});

test('another process holding the directory is named; after it is SIGKILLed the directory reopens with every committed job', async () => {
  const { dir, remove } = await tempDir('pglite-kill');
  const child = spawn(process.execPath, [HOLDER, dir, '10'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor('holder ready', () => lines.includes('ready'), 30_000);
    await assert.rejects(JobQueue.open({ store: pgliteStore(dir) }), (err: unknown) => {
      assert.ok(err instanceof StoreLockedError, String(err));
      assert.equal(err.pid, child.pid);
      return true;
    });
    child.kill('SIGKILL');
    await exited;
    const q = await JobQueue.open({ store: pgliteStore(dir) });
    const added = lines.filter((l) => l.startsWith('added ')).length;
    assert.equal(added, 10);
    assert.equal((await q.counts()).byKind['held']?.pending, added, 'every add reported committed is there');
    const job = await q.add('after', 1);
    assert.ok(BigInt(job.id) > BigInt(added), 'no id is handed out twice (a sequence may skip ahead after a crash)');
    await q.close();
  } finally {
    child.kill('SIGKILL');
    await remove();
  }
});

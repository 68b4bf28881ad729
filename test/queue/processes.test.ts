// Many processes on one PostgreSQL queue: sharing work without running a job twice,
// redelivery after a consumer is SIGKILLed, lease handover after the holder is SIGKILLed,
// and migrations applied once when five processes open a fresh schema at the same time.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JobQueue, postgresStore } from '../../src/queue/index.js';
import { DATABASE_URL, dropSchema, sql, uniqueSchema, waitFor } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/queue-child.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

const children = new Set<Child>();

function spawnChild(command: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, [FIXTURE, JSON.stringify({ url: DATABASE_URL, ...command })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const child: Child = {
    proc,
    lines: [],
    exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))),
  };
  createInterface({ input: proc.stdout! }).on('line', (l) => child.lines.push(l));
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

async function stopChild(c: Child, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill(signal);
  await c.exited;
}

const ready = (c: Child) => waitFor('child ready', () => c.lines.includes('ready'), 20_000);

describe('queue across processes on PostgreSQL', () => {
  const schema = uniqueSchema('procs');
  let q: JobQueue;
  before(async () => {
    q = await JobQueue.open({ store: postgresStore({ connectionString: DATABASE_URL, schema }) });
  });
  after(async () => {
    await Promise.all([...children].map((c) => stopChild(c, 'SIGKILL')));
    await q?.close();
    await dropSchema(schema);
  });

  test('10,000 jobs across 4 consumers in 2 processes: every job completes, none twice', async () => {
    const kind = 'share';
    // A lease long enough that a renewal stalled by a loaded machine cannot lapse it: a lapsed
    // lease is a legitimate redelivery, not what this test is about (no job runs twice while
    // its holder is alive and renewing).
    const procs = [0, 1].map(() => spawnChild({ mode: 'consume', schema, kind, workers: 2, concurrency: 4, leaseMs: 10_000 }));
    await Promise.all(procs.map(ready));
    const items = Array.from({ length: 10_000 }, (_, i) => ({ kind, payload: { i } }));
    const ids: string[] = [];
    for (let i = 0; i < items.length; i += 2000) ids.push(...(await q.addMany(items.slice(i, i + 2000))).map((j) => j.id));
    await waitFor('all done', async () => (await q.counts()).byKind[kind]?.done === 10_000, 60_000);
    await Promise.all(procs.map((c) => stopChild(c)));
    const runs = new Map<string, number>();
    for (const c of procs) {
      for (const l of c.lines) {
        const [word, id, attempts] = l.split(' ');
        if (word !== 'ran') continue;
        runs.set(id!, (runs.get(id!) ?? 0) + 1);
        assert.equal(attempts, '1');
      }
    }
    assert.equal(runs.size, 10_000);
    assert.deepEqual(new Set(runs.keys()), new Set(ids));
    assert.ok(
      [...runs.values()].every((n) => n === 1),
      'no job ran twice',
    );
    for (const c of procs)
      assert.ok(
        c.lines.some((l) => l.startsWith('ran ')),
        'both processes did work',
      );
  });

  test('a consumer process SIGKILLed mid-job: its jobs are done by another after the lease', async () => {
    const kind = 'crash';
    const leaseMs = 600;
    const victim = spawnChild({ mode: 'consume', schema, kind, concurrency: 3, leaseMs, hang: true });
    await ready(victim);
    const jobs = await q.addMany([1, 2, 3].map((i) => ({ kind, payload: i })));
    await waitFor('victim started all three', () => victim.lines.filter((l) => l.startsWith('started ')).length === 3);
    const killedAt = Date.now();
    await stopChild(victim, 'SIGKILL');
    const rescuer = spawnChild({ mode: 'consume', schema, kind, concurrency: 3, leaseMs });
    await waitFor('rescued', () => rescuer.lines.filter((l) => l.startsWith('ran ')).length === 3, 20_000);
    const elapsed = Date.now() - killedAt;
    assert.ok(elapsed >= leaseMs / 2, `redelivered ${elapsed} ms after the kill: not before the lease ran out`);
    for (const j of jobs) {
      const now = await waitFor('acknowledged', async () => {
        const got = (await q.get(j.id))!;
        return got.state === 'done' && got;
      });
      assert.equal(now.state, 'done');
      assert.equal(now.attempts, 2, 'the crashed run counts as an attempt');
      assert.ok(rescuer.lines.includes(`ran ${j.id} 2`));
    }
    await stopChild(rescuer);
  });

  test('lease: two processes compete, exactly one holds; SIGKILL of the holder hands over within ttl plus a renewal', async () => {
    const name = 'leader';
    const ttlMs = 900;
    const a = spawnChild({ mode: 'lease', schema, name, ttlMs });
    const b = spawnChild({ mode: 'lease', schema, name, ttlMs });
    await Promise.all([ready(a), ready(b)]);
    const holding = (c: Child) => c.lines.filter((l) => l === 'holding').length;
    await waitFor('one holder', () => holding(a) + holding(b) === 1);
    await new Promise((r) => setTimeout(r, ttlMs * 1.5)); // renewals keep it with the first holder
    assert.equal(holding(a) + holding(b), 1, 'exactly one holder, still the same');
    const [holder, other] = holding(a) === 1 ? [a, b] : [b, a];
    const killedAt = Date.now();
    await stopChild(holder, 'SIGKILL');
    await waitFor('handover', () => holding(other) === 1, 10_000);
    const took = Date.now() - killedAt;
    // ttl + one renewal period, plus slack for a busy machine.
    assert.ok(took <= ttlMs + ttlMs / 3 + 1500, `handover took ${took} ms`);
    await stopChild(other);
    assert.ok(other.lines.includes('released'), 'a stopped holder stops its worker');
    assert.equal(
      (await sql(`SELECT count(*)::int AS n FROM "${schema}".leases WHERE name = $1`, [name]))[0]!['n'],
      0,
      'and releases the lease',
    );
  });

  test('a consumer SIGKILLed holding 20 jobs claimed ahead, one started: only that one uses its attempt', async () => {
    const kind = 'ahead-kill';
    const leaseMs = 600;
    const jobs = await q.addMany(Array.from({ length: 20 }, (_, i) => ({ kind, payload: i, options: { maxAttempts: 1 } })));
    const victim = spawnChild({ mode: 'consume', schema, kind, concurrency: 1, batchSize: 20, leaseMs, hang: true });
    await waitFor('victim started one', () => victim.lines.some((l) => l.startsWith('started ')));
    await waitFor('victim holds all twenty', async () => (await q.counts()).byKind[kind]?.running === 20);
    await stopChild(victim, 'SIGKILL');
    const rescuer = spawnChild({ mode: 'consume', schema, kind, concurrency: 4, leaseMs });
    await waitFor('19 rescued', () => rescuer.lines.filter((l) => l.startsWith('ran ')).length === 19, 20_000);
    await stopChild(rescuer);
    const startedId = victim.lines.find((l) => l.startsWith('started '))!.split(' ')[1];
    for (const j of jobs) {
      const got = (await q.get(j.id))!;
      if (j.id === startedId) {
        assert.equal(got.state, 'failed');
        assert.match(got.lastError!, /lease expired/);
      } else {
        assert.equal(got.state, 'done', `job ${j.id}`);
        assert.equal(got.attempts, 1);
      }
    }
    assert.ok(
      rescuer.lines.filter((l) => l.startsWith('ran ')).every((l) => l.endsWith(' 1')),
      'each rescued job on its first attempt',
    );
  });

  test('named queues under 4 consumers in 2 processes: never two jobs of a queue at once, and in add order', async () => {
    const kind = 'named';
    const procs = [0, 1].map(() => spawnChild({ mode: 'queued', schema, kind, workers: 2, concurrency: 3, pollMs: 100 }));
    await Promise.all(procs.map(ready));
    const names = ['qa', 'qb', 'qc', 'qd'];
    const items = [];
    for (let i = 0; i < 25; i++) for (const name of names) items.push({ kind, payload: { q: name, i }, options: { queue: name } });
    await q.addMany(items);
    await waitFor('all done', async () => (await q.counts()).byKind[kind]?.done === 100, 60_000);
    await Promise.all(procs.map((c) => stopChild(c)));
    const spans = new Map<string, { i: number; start: number; end: number }[]>();
    const open = new Map<string, number>();
    for (const c of procs) {
      for (const l of c.lines) {
        const [word, name, i, at] = l.split(' ');
        if (word === 'start') open.set(`${name} ${i}`, Number(at));
        if (word === 'end')
          (spans.get(name!) ?? spans.set(name!, []).get(name!)!).push({ i: Number(i), start: open.get(`${name} ${i}`)!, end: Number(at) });
      }
    }
    for (const name of names) {
      const list = spans.get(name)!.sort((a, b) => a.start - b.start || a.i - b.i);
      assert.deepEqual(
        list.map((s) => s.i),
        Array.from({ length: 25 }, (_, i) => i),
        `${name} ran in add order`,
      );
      for (let k = 1; k < list.length; k++) {
        assert.ok(list[k]!.start >= list[k - 1]!.end, `${name}: job ${list[k]!.i} started before job ${list[k - 1]!.i} ended`);
      }
    }
    assert.ok(
      procs.every((c) => c.lines.some((l) => l.startsWith('start '))),
      'both processes ran queued jobs',
    );
  });

  test('a per-second schedule with 3 schedulers in 3 processes for 5 s adds exactly one job per tick', async () => {
    const kind = 'every-second';
    await q.schedule('per-second', { cron: '* * * * * *', kind });
    const procs = [0, 1, 2].map(() => spawnChild({ mode: 'scheduler', schema }));
    await Promise.all(procs.map(ready));
    await new Promise((r) => setTimeout(r, 5200));
    await Promise.all(procs.map((c) => stopChild(c)));
    await q.unschedule('per-second');
    const rows = await sql(
      `SELECT (extract(epoch FROM run_at) * 1000)::float8 AS t FROM "${schema}".jobs WHERE kind = $1 ORDER BY run_at`,
      [kind],
    );
    const ticks = rows.map((r) => Number(r['t']));
    assert.ok(ticks.length >= 4, `${ticks.length} jobs in 5 s`);
    assert.ok(
      ticks.every((t) => t % 1000 === 0),
      'each at its tick',
    );
    for (let k = 1; k < ticks.length; k++) assert.equal(ticks[k]! - ticks[k - 1]!, 1000, 'one job per tick, no tick twice, none skipped');
  });

  test('migrations run once when five processes open a fresh schema at the same time', async () => {
    const fresh = uniqueSchema('mig');
    try {
      const procs = Array.from({ length: 5 }, () => spawnChild({ mode: 'open', schema: fresh }));
      const codes = await Promise.all(procs.map((c) => c.exited));
      assert.deepEqual(codes, [0, 0, 0, 0, 0]);
      const applied = procs.map((c) => c.lines.find((l) => l.startsWith('applied '))!.slice('applied '.length));
      assert.equal(applied.filter((a) => a === '[1,2]').length, 1, `applied: ${applied.join(' ')}`);
      assert.equal(applied.filter((a) => a === '[]').length, 4);
      const rows = await sql(`SELECT version FROM "${fresh}".migrations`);
      assert.deepEqual(rows.map((r) => r['version']).sort(), [1, 2]);
    } finally {
      await dropSchema(fresh);
    }
  });
});

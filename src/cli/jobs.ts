// `bosun jobs [counts|failed|retry ID|cancel ID] --database URL | --pglite DIR`: the operator's
// view of a job queue, without a daemon. Counts by kind and state, the failed jobs newest first
// with their last error, and retry or cancel of one job. The queue comes from --database
// (with --schema) or --pglite, else from the config's `queue:` key. Exit codes as every bosun
// command: 0 done, 1 failed (no such job, a job in the wrong state, the store unreachable or
// locked), 2 bad usage.
//
// The queue modules are imported only when the command runs, so other commands never load them.

import type { Command } from 'commander';
import type { QueueConfig } from '../fleet/config.js';
import type { Counts, Job, JobQueue } from '../queue/index.js';

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A failure to report: the message and the exit code. */
export class JobsError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface JobsOptions {
  database?: string;
  schema?: string;
  pglite?: string;
  kind?: string;
  limit: string;
  json?: boolean;
  config?: string;
}

/** Opens the queue a QueueConfig names. */
export async function openQueue(config: QueueConfig): Promise<JobQueue> {
  const { JobQueue, pgliteStore, postgresStore } = await import('../queue/index.js');
  const store =
    'pglite' in config
      ? pgliteStore(config.pglite)
      : postgresStore({ connectionString: config.database, ...(config.schema ? { schema: config.schema } : {}) });
  return JobQueue.open({ store });
}

async function queueConfig(o: JobsOptions): Promise<QueueConfig> {
  if (o.database !== undefined && o.pglite !== undefined)
    throw new JobsError(EXIT.usage, 'bosun jobs: give --database or --pglite, not both');
  if (o.schema !== undefined && o.database === undefined) throw new JobsError(EXIT.usage, 'bosun jobs: --schema goes with --database');
  if (o.database !== undefined) return { database: o.database, ...(o.schema !== undefined ? { schema: o.schema } : {}) };
  if (o.pglite !== undefined) return { pglite: o.pglite };
  const { findConfig, readConfig, validateConfig, ConfigError } = await import('../fleet/config.js');
  const file = findConfig(o.config);
  if (file !== undefined) {
    try {
      const config = validateConfig(await readConfig(file), file, { checkFiles: false });
      if (config.queue !== undefined) return config.queue;
    } catch (err) {
      if (err instanceof ConfigError) throw new JobsError(EXIT.usage, err.problems.join('\n'));
      throw err;
    }
  }
  throw new JobsError(
    EXIT.usage,
    'bosun jobs: which queue? give --database URL or --pglite DIR (or a config with queue: { database | pglite })',
  );
}

const STATES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;

export function countsTable(c: Counts): string {
  const rows = [
    ['kind', ...STATES],
    ...Object.entries(c.byKind)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, s]) => [k, ...STATES.map((st) => String(s[st]))]),
    ['(all)', ...STATES.map((st) => String(c.total[st]))],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

/** The first line of a job's last error, as the failed list shows it. */
export function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0]!.slice(0, 200);
}

function failedList(jobs: Job[]): string {
  if (jobs.length === 0) return 'no failed jobs';
  return jobs
    .map(
      (j) =>
        `${j.id}  ${j.kind}  attempts=${j.attempts}/${j.maxAttempts}  ${j.finishedAt?.toISOString() ?? ''}\n    ${firstLine(j.lastError)}`,
    )
    .join('\n');
}

/** Runs one `bosun jobs` action; returns what to print. Throws JobsError. */
export async function runJobs(action: string, id: string | undefined, o: JobsOptions): Promise<string> {
  if (!['counts', 'failed', 'retry', 'cancel'].includes(action))
    throw new JobsError(EXIT.usage, `bosun jobs: unknown action '${action}' (expected counts, failed, retry ID or cancel ID)`);
  if ((action === 'retry' || action === 'cancel') !== (id !== undefined)) {
    throw new JobsError(EXIT.usage, id === undefined ? `bosun jobs ${action}: needs a job id` : `bosun jobs ${action}: takes no id`);
  }
  const limit = Number(o.limit);
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new JobsError(EXIT.usage, `bosun jobs: --limit expects a whole number >= 1, got '${o.limit}'`);
  const config = await queueConfig(o);
  let q: JobQueue;
  try {
    q = await openQueue(config);
  } catch (err) {
    throw new JobsError(EXIT.failed, `bosun jobs: cannot open the queue: ${(err as Error).message}`);
  }
  try {
    const json = (v: unknown) => JSON.stringify(v);
    if (action === 'counts') {
      const c = await q.counts();
      return o.json ? json(c) : countsTable(c);
    }
    if (action === 'failed') {
      const list = await q.failed({ ...(o.kind !== undefined ? { kind: o.kind } : {}), limit });
      return o.json ? json(list) : failedList(list);
    }
    const before = await q.get(id!);
    if (before === null) throw new JobsError(EXIT.failed, `bosun jobs ${action}: no job ${id}`);
    const after = action === 'retry' ? await q.retry(id!) : await q.cancel(id!);
    const changed =
      action === 'retry'
        ? before.state !== 'pending' && after?.state === 'pending'
        : after?.state === 'cancelled' && before.state !== 'cancelled';
    if (!changed) {
      const why =
        action === 'retry'
          ? 'only failed or cancelled jobs can be retried (and not while another live job holds its key)'
          : 'only pending or running jobs can be cancelled';
      throw new JobsError(EXIT.failed, `bosun jobs ${action}: job ${id} (${before.kind}) is ${before.state}; ${why}`);
    }
    return o.json ? json(after) : `job ${id} (${before.kind}) is now ${after!.state}`;
  } catch (err) {
    if (err instanceof JobsError) throw err;
    throw new JobsError(EXIT.failed, `bosun jobs: ${(err as Error).message}`);
  } finally {
    await q.close();
  }
}

/** Adds `jobs` to the bosun command line; `done(code)` receives the exit code. */
export function jobsCommand(cli: Command, common: (c: Command) => Command, done: (code: number) => void): void {
  common(
    cli
      .command('jobs [action] [id]')
      .description('the job queue: counts (default), failed, retry ID, cancel ID')
      .option('--database <url>', 'a PostgreSQL queue')
      .option('--schema <name>', 'its schema (default bosun)')
      .option('--pglite <dir>', 'a PGlite queue directory (not while a process holds it)')
      .option('--kind <kind>', 'failed: only this kind')
      .option('--limit <n>', 'failed: at most this many', '20')
      .option('--json', 'print JSON for scripts'),
  ).action(async (action: string | undefined, id: string | undefined, _o, c: Command) => {
    try {
      process.stdout.write(`${await runJobs(action ?? 'counts', id, c.optsWithGlobals())}\n`);
      done(EXIT.ok);
    } catch (err) {
      if (!(err instanceof JobsError)) throw err;
      process.stderr.write(`${err.message}\n`);
      done(err.exitCode);
    }
  });
}

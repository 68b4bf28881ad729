// The queue's SQL, shared by the PGlite and PostgreSQL stores: they differ only in how they
// connect (a Db). Every comparison of run-at and leases uses the database's now(), so many
// machines with skewed clocks agree. Claims take up to n jobs in one statement with
// FOR UPDATE SKIP LOCKED; each completion is its own statement, durable before it returns.

import type { Clock } from '../core/index.js';
import { channelOf, migrate, quoteSchema, type MigrationTx } from './migrations.js';
import {
  emptyStateCounts,
  type Claim,
  type Counts,
  type Job,
  type JobState,
  type NewJob,
  type Store,
} from './types.js';

export type Row = Record<string, unknown>;

/** A connection (or pool) as the SQL store needs it. */
export interface Db {
  query(text: string, params?: unknown[]): Promise<Row[]>;
  /** Runs `fn` in one transaction on one connection. */
  transaction<T>(fn: (tx: MigrationTx) => Promise<T>): Promise<T>;
  /** Calls `fn(payload)` for each NOTIFY on `channel`; resolves once listening. */
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>;
  /** Lets the store keep about `n` statements in flight (a pool grows to it). */
  reserve(n: number): void;
  close(): Promise<void>;
}

const ms = "* interval '1 millisecond'";

function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(v as string);
}

export function rowToJob(r: Row): Job {
  const job: Job = {
    id: String(r['id']),
    kind: r['kind'] as string,
    payload: r['payload'], // both drivers parse jsonb
    state: r['state'] as JobState,
    attempts: Number(r['attempts']),
    maxAttempts: Number(r['max_attempts']),
    priority: Number(r['priority']),
    runAt: toDate(r['run_at']),
    createdAt: toDate(r['created_at']),
  };
  if (r['key'] !== null && r['key'] !== undefined) job.key = r['key'] as string;
  if (r['last_error'] !== null && r['last_error'] !== undefined) job.lastError = r['last_error'] as string;
  if (r['finished_at'] !== null && r['finished_at'] !== undefined) job.finishedAt = toDate(r['finished_at']);
  return job;
}

const byClaimOrder = (a: Job, b: Job) =>
  b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || Number(BigInt(a.id) - BigInt(b.id));

export class SqlStore implements Store {
  readonly name: string;
  readonly #connect: () => Promise<Db>;
  readonly #schema: string;
  readonly #s: string;
  #db: Db | undefined;
  /** Versions applied by this open (for tests and logs). */
  applied: number[] = [];

  constructor(name: string, schema: string, connect: () => Promise<Db>) {
    this.name = name;
    this.#schema = schema;
    this.#s = quoteSchema(schema);
    this.#connect = connect;
  }

  get #q(): Db {
    if (this.#db === undefined) throw new Error(`${this.name} store is not open`);
    return this.#db;
  }

  async open(_ctx: { clock: Clock }): Promise<void> {
    const db = await this.#connect();
    try {
      this.applied = await db.transaction((tx) => migrate(tx, this.#schema));
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    this.#db = db;
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.close();
  }

  /** Lets `n` more statements run in parallel (one per running handler's acknowledgement). */
  reserve(n: number): void {
    this.#q.reserve(n);
  }

  async add(jobs: NewJob[]): Promise<Job[]> {
    if (jobs.length === 0) return [];
    // The payload is already JSON text: splice it in rather than parse and re-stringify it.
    const input =
      '[' +
      jobs
        .map(
          (j, ord) =>
            `{"ord":${ord},"kind":${JSON.stringify(j.kind)},"payload":${j.payloadJson},"run_at_ms":${j.runAtMs ?? 'null'},` +
            `"delay_ms":${j.delayMs},"priority":${j.priority},"max_attempts":${j.maxAttempts},"key":${j.key === null ? 'null' : JSON.stringify(j.key)}}`,
        )
        .join(',') +
      ']';
    const rows = await this.#q.query(
      `INSERT INTO ${this.#s}.jobs (kind, payload, run_at, priority, max_attempts, key)
       SELECT kind, coalesce(payload, 'null'::jsonb), coalesce(to_timestamp(run_at_ms / 1000.0), now() + delay_ms ${ms}), priority, max_attempts, key
       FROM jsonb_to_recordset($1::jsonb) AS x(ord integer, kind text, payload jsonb, run_at_ms float8,
         delay_ms float8, priority integer, max_attempts integer, key text)
       ORDER BY ord
       ON CONFLICT (key) WHERE key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
       RETURNING *`,
      [input],
    );
    // Inserted rows come back in id order, which is input order; keyed inputs that were not
    // inserted (a live job holds the key, or an earlier input in this batch) map to that job.
    const inserted = rows.map(rowToJob).sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
    const insertedKeys = new Set(inserted.filter((j) => j.key !== undefined).map((j) => j.key));
    const out: (Job | undefined)[] = [];
    const missing: string[] = [];
    const taken = new Set<string>();
    let next = 0;
    for (const j of jobs) {
      if (j.key === null || (insertedKeys.has(j.key) && !taken.has(j.key))) {
        if (j.key !== null) taken.add(j.key);
        out.push(inserted[next++]);
      } else {
        out.push(undefined);
        missing.push(j.key);
      }
    }
    if (missing.length > 0) {
      const live = await this.#q.query(
        `SELECT * FROM ${this.#s}.jobs WHERE key = ANY($1::text[]) AND state IN ('pending', 'running')`,
        [missing],
      );
      const byKey = new Map(live.map(rowToJob).map((j) => [j.key, j]));
      const retry: number[] = [];
      jobs.forEach((j, i) => {
        if (out[i] !== undefined) return;
        const found = byKey.get(j.key!) ?? inserted.find((x) => x.key === j.key);
        if (found) out[i] = found;
        else retry.push(i);
      });
      // The live job finished between our insert and our look: its key is free, add again.
      if (retry.length > 0) {
        const again = await this.add(retry.map((i) => jobs[i]!));
        retry.forEach((i, k) => (out[i] = again[k]));
      }
    }
    return out as Job[];
  }

  async claim(kind: string, n: number, leaseMs: number, token: string): Promise<Claim[]> {
    const rows = await this.#q.query(
      `WITH c AS (
         SELECT id FROM ${this.#s}.jobs
         WHERE kind = $1 AND state = 'pending' AND run_at <= now()
         ORDER BY priority DESC, run_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE ${this.#s}.jobs j
       SET state = 'running', attempts = j.attempts + 1, locked_by = $3, locked_until = now() + $4::float8 ${ms}
       FROM c WHERE j.id = c.id
       RETURNING j.*, (extract(epoch FROM now() - j.run_at) * 1000)::float8 AS wait_ms`,
      [kind, n, token, leaseMs],
    );
    const claims = rows.map((r) => ({ job: rowToJob(r), waitMs: Math.max(0, Number(r['wait_ms'])) }));
    return claims.sort((a, b) => byClaimOrder(a.job, b.job));
  }

  async renew(ids: string[], leaseMs: number, token: string): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#q.query(
      `UPDATE ${this.#s}.jobs SET locked_until = now() + $3::float8 ${ms}
       WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND state = 'running' RETURNING id`,
      [ids, token, leaseMs],
    );
    return new Set(rows.map((r) => String(r['id'])));
  }

  async complete(job: Job, token: string): Promise<boolean> {
    const rows = await this.#q.query(
      `UPDATE ${this.#s}.jobs SET state = 'done', locked_by = NULL, locked_until = NULL, finished_at = now()
       WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND state = 'running' RETURNING id`,
      [job.id, token, job.attempts],
    );
    return rows.length === 1;
  }

  async completeMany(jobs: Job[], token: string): Promise<Set<string>> {
    if (jobs.length === 1) return new Set((await this.complete(jobs[0]!, token)) ? [jobs[0]!.id] : []);
    const rows = await this.#q.query(
      `UPDATE ${this.#s}.jobs j SET state = 'done', locked_by = NULL, locked_until = NULL, finished_at = now()
       FROM unnest($1::bigint[], $2::integer[]) AS a(id, attempts)
       WHERE j.id = a.id AND j.attempts = a.attempts AND j.locked_by = $3 AND j.state = 'running'
       RETURNING j.id`,
      [jobs.map((j) => j.id), jobs.map((j) => j.attempts), token],
    );
    return new Set(rows.map((r) => String(r['id'])));
  }

  async fail(job: Job, token: string, error: string, retryInMs: number | null): Promise<boolean> {
    const rows = await this.#q.query(
      `UPDATE ${this.#s}.jobs SET last_error = $4, locked_by = NULL, locked_until = NULL,
         state = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'pending' END,
         run_at = CASE WHEN $5::float8 IS NULL THEN run_at ELSE now() + $5::float8 ${ms} END,
         finished_at = CASE WHEN $5::float8 IS NULL THEN now() END
       WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND state = 'running' RETURNING id`,
      [job.id, token, job.attempts, error, retryInMs],
    );
    return rows.length === 1;
  }

  async release(job: Job, token: string): Promise<boolean> {
    const rows = await this.#q.query(
      `UPDATE ${this.#s}.jobs SET state = 'pending', attempts = attempts - 1, locked_by = NULL, locked_until = NULL
       WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND state = 'running' RETURNING id`,
      [job.id, token, job.attempts],
    );
    if (rows.length === 1) await this.#notify(job.kind);
    return rows.length === 1;
  }

  async #notify(kind: string): Promise<void> {
    await this.#q.query('SELECT pg_notify($1, $2)', [channelOf(this.#schema), kind]);
  }

  async reap(kind: string): Promise<number> {
    const rows = await this.#q.query(
      `UPDATE ${this.#s}.jobs SET locked_by = NULL, locked_until = NULL,
         last_error = 'lease expired: the consumer stopped renewing (crashed or stalled)',
         state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
         finished_at = CASE WHEN attempts >= max_attempts THEN now() END
       WHERE kind = $1 AND state = 'running' AND locked_until < now() RETURNING id`,
      [kind],
    );
    return rows.length;
  }

  async nextDueInMs(kind: string): Promise<number | null> {
    const rows = await this.#q.query(
      `SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS ms
       FROM ${this.#s}.jobs WHERE kind = $1 AND state = 'pending'`,
      [kind],
    );
    const v = rows[0]?.['ms'];
    return v === null || v === undefined ? null : Math.max(0, Number(v));
  }

  async subscribe(wake: (kind: string) => void): Promise<() => Promise<void>> {
    return this.#q.listen(channelOf(this.#schema), wake);
  }

  async get(id: string): Promise<Job | null> {
    if (!/^\d{1,19}$/.test(id)) return null;
    const rows = await this.#q.query(`SELECT * FROM ${this.#s}.jobs WHERE id = $1`, [id]);
    return rows[0] ? rowToJob(rows[0]) : null;
  }

  async counts(): Promise<Counts> {
    const rows = await this.#q.query(
      `SELECT kind, state, count(*)::integer AS n FROM ${this.#s}.jobs GROUP BY kind, state`,
    );
    const total = emptyStateCounts();
    const byKind: Counts['byKind'] = {};
    for (const r of rows) {
      const state = r['state'] as JobState;
      const n = Number(r['n']);
      total[state] += n;
      (byKind[r['kind'] as string] ??= emptyStateCounts())[state] += n;
    }
    return { total, byKind };
  }

  async failed(kind: string | null, limit: number): Promise<Job[]> {
    const rows = await this.#q.query(
      `SELECT * FROM ${this.#s}.jobs WHERE state = 'failed' AND ($1::text IS NULL OR kind = $1)
       ORDER BY finished_at DESC, id DESC LIMIT $2`,
      [kind, limit],
    );
    return rows.map(rowToJob);
  }

  async retry(id: string): Promise<Job | null> {
    if (!/^\d{1,19}$/.test(id)) return null;
    try {
      const rows = await this.#q.query(
        `UPDATE ${this.#s}.jobs SET state = 'pending', attempts = 0, run_at = now(), finished_at = NULL
         WHERE id = $1 AND state IN ('failed', 'cancelled') RETURNING *`,
        [id],
      );
      if (rows[0]) {
        const job = rowToJob(rows[0]);
        await this.#notify(job.kind);
        return job;
      }
    } catch (err) {
      // A live job now holds this job's key: leave this one as it is.
      if ((err as { code?: string }).code !== '23505') throw err;
    }
    return this.get(id);
  }

  async cancel(id: string): Promise<Job | null> {
    if (!/^\d{1,19}$/.test(id)) return null;
    const rows = await this.#q.query(
      `UPDATE ${this.#s}.jobs SET state = 'cancelled', finished_at = now(), locked_by = NULL, locked_until = NULL
       WHERE id = $1 AND state IN ('pending', 'running') RETURNING *`,
      [id],
    );
    return rows[0] ? rowToJob(rows[0]) : this.get(id);
  }

  async prune(olderThanMs: number, states: JobState[]): Promise<number> {
    const rows = await this.#q.query(
      `DELETE FROM ${this.#s}.jobs WHERE state = ANY($1::text[]) AND finished_at < now() - $2::float8 ${ms} RETURNING id`,
      [states, olderThanMs],
    );
    return rows.length;
  }

  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows = await this.#q.query(
      `INSERT INTO ${this.#s}.leases (name, holder, expires_at) VALUES ($1, $2, now() + $3::float8 ${ms})
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE ${this.#s}.leases.holder = excluded.holder OR ${this.#s}.leases.expires_at < now()
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return rows.length === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#q.query(`DELETE FROM ${this.#s}.leases WHERE name = $1 AND holder = $2`, [name, holder]);
  }
}

// The queue's SQL, shared by the PGlite and PostgreSQL stores: they differ only in how they
// connect (a Db). Every comparison of run-at and leases uses the database's now(), so many
// machines with skewed clocks agree. Claims take up to n jobs in one call of the schema's
// claim() function (FOR UPDATE SKIP LOCKED); each acknowledgement is durable before it
// returns. Every database error comes out as a StoreError saying whether it may heal.

import { BosunError, type Clock } from '../core/index.js';
import { QueueClosedError, StoreError } from './errors.js';
import { channelOf, migrate, quoteSchema, type MigrationTx } from './migrations.js';
import {
  emptyStateCounts,
  type Claim,
  type Counts,
  type Job,
  type JobState,
  type NewJob,
  type ScheduleSpec,
  type Store,
  type StoredSchedule,
} from './types.js';

export type Row = Record<string, unknown>;

/** A connection (or pool) as the SQL store needs it. */
export interface Db {
  query(text: string, params?: unknown[]): Promise<Row[]>;
  /** Runs `fn` in one transaction on one connection. */
  transaction<T>(fn: (tx: MigrationTx) => Promise<T>): Promise<T>;
  /**
   * Calls `fn(payload)` for each NOTIFY on `channel`; resolves once listening. A connection
   * that drops is re-established for as long as it takes, reporting each failure to
   * `onError`, and `fn('')` is called once listening again.
   */
  listen(channel: string, fn: (payload: string) => void, onError: (err: Error) => void): Promise<() => Promise<void>>;
  /** Lets the store keep about `n` statements in flight (a pool grows to it). */
  reserve(n: number): void;
  close(): Promise<void>;
}

const ms = "* interval '1 millisecond'";

function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(v as string);
}

/** 'scheduled' (not yet due) is the stores' own state: users see such a job as pending. */
const publicState = (state: unknown): JobState => (state === 'scheduled' ? 'pending' : (state as JobState));

export function rowToJob(r: Row): Job {
  const job: Job = {
    id: String(r['sid'] ?? r['id']),
    kind: r['kind'] as string,
    payload: r['payload'], // both drivers parse jsonb
    state: publicState(r['state']),
    attempts: Number(r['attempts']),
    maxAttempts: Number(r['max_attempts']),
    priority: Number(r['priority']),
    runAt: toDate(r['run_at']),
    createdAt: toDate(r['created_at']),
  };
  if (r['key'] !== null && r['key'] !== undefined) job.key = r['key'] as string;
  if (r['queue'] !== null && r['queue'] !== undefined) job.queue = r['queue'] as string;
  if (r['last_error'] !== null && r['last_error'] !== undefined) job.lastError = r['last_error'] as string;
  if (r['finished_at'] !== null && r['finished_at'] !== undefined) job.finishedAt = toDate(r['finished_at']);
  return job;
}

const LIVE = `('pending', 'scheduled', 'running')`;
const LEASE_EXPIRED = 'lease expired: the consumer stopped renewing (crashed or stalled)';
const PRUNE_BATCH = 10_000;

export class SqlStore implements Store {
  readonly name: string;
  readonly #connect: (clock: Clock) => Promise<Db>;
  readonly #schema: string;
  readonly #s: string;
  #db: Db | undefined;
  /** Versions applied by this open (for tests and logs). */
  applied: number[] = [];

  constructor(name: string, schema: string, connect: (clock: Clock) => Promise<Db>) {
    this.name = name;
    this.#schema = schema;
    this.#s = quoteSchema(schema);
    this.#connect = connect;
  }

  get #db_(): Db {
    if (this.#db === undefined) throw new QueueClosedError();
    return this.#db;
  }

  /** Runs one statement; a database error becomes a StoreError (with `transient`). */
  async #query(text: string, params?: unknown[]): Promise<Row[]> {
    const db = this.#db_;
    try {
      return await db.query(text, params);
    } catch (err) {
      throw new StoreError(this.name, err);
    }
  }

  async open(ctx: { clock: Clock }): Promise<void> {
    let db: Db;
    try {
      db = await this.#connect(ctx.clock);
    } catch (err) {
      throw err instanceof BosunError ? err : new StoreError(this.name, err);
    }
    try {
      this.applied = await db.transaction((tx) => migrate(tx, this.#schema));
    } catch (err) {
      await db.close().catch(() => {});
      throw err instanceof BosunError ? err : new StoreError(this.name, err);
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
    this.#db?.reserve(n);
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
            `"delay_ms":${j.delayMs},"priority":${j.priority},"max_attempts":${j.maxAttempts},` +
            `"key":${j.key === null ? 'null' : JSON.stringify(j.key)},"queue":${j.queue === null ? 'null' : JSON.stringify(j.queue)}}`,
        )
        .join(',') +
      ']';
    const rows = await this.#query(
      `INSERT INTO ${this.#s}.jobs (kind, payload, run_at, priority, max_attempts, key, queue, state)
       SELECT kind, payload, run_at, priority, max_attempts, key, queue,
         CASE WHEN run_at > now() THEN 'scheduled' ELSE 'pending' END
       FROM (SELECT ord, kind, coalesce(payload, 'null'::jsonb) AS payload,
               coalesce(to_timestamp(run_at_ms / 1000.0), now() + delay_ms ${ms}) AS run_at, priority, max_attempts, key, queue
             FROM jsonb_to_recordset($1::jsonb) AS x(ord integer, kind text, payload jsonb, run_at_ms float8,
               delay_ms float8, priority integer, max_attempts integer, key text, queue text)) AS x
       ORDER BY ord
       ON CONFLICT (key) WHERE key IS NOT NULL AND state IN ${LIVE} DO NOTHING
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
      const live = await this.#query(`SELECT * FROM ${this.#s}.jobs WHERE key = ANY($1::text[]) AND state IN ${LIVE}`, [missing]);
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

  async claim(
    kind: string,
    n: number,
    startN: number,
    leaseMs: number,
    token: string,
  ): Promise<{ claims: Claim[]; nextDueMs: number | null }> {
    // The claim's commit does not wait for its WAL flush (synchronous_commit off for this one
    // transaction): a claim lost to a crash of PostgreSQL itself leaves the job claimable, as
    // a lapsed lease does, and any later durable commit (an acknowledgement) flushes it first.
    const rows = await this.#query(`SELECT ${this.#s}.claim($1, $2, $3, $4, $5) AS r, set_config('synchronous_commit', 'off', true)`, [
      kind,
      n,
      startN,
      token,
      leaseMs,
    ]);
    const r = rows[0]!['r'] as { jobs: Row[]; next_ms: number | null };
    const claims = r.jobs.map((row) => ({ job: rowToJob(row), waitMs: Math.max(0, Number(row['wait_ms'])) }));
    return { claims, nextDueMs: r.next_ms === null ? null : Math.max(0, r.next_ms) };
  }

  async start(jobs: Job[], token: string): Promise<Set<string>> {
    if (jobs.length === 0) return new Set();
    const rows = await this.#query(
      `UPDATE ${this.#s}.jobs SET started_at = now()
       WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND state = 'running' AND started_at IS NULL RETURNING id`,
      [jobs.map((j) => j.id), token],
    );
    return new Set(rows.map((r) => String(r['id'])));
  }

  async renew(ids: string[], leaseMs: number, token: string): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#query(
      `UPDATE ${this.#s}.jobs SET locked_until = now() + $3::float8 ${ms}
       WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND state = 'running' RETURNING id`,
      [ids, token, leaseMs],
    );
    return new Set(rows.map((r) => String(r['id'])));
  }

  async completeMany(jobs: Job[], token: string, start: Job[] = []): Promise<{ done: Set<string>; started: Set<string> }> {
    if (start.length > 0 && jobs.length === 0) return { done: new Set(), started: await this.start(start, token) };
    if (jobs.length === 0) return { done: new Set(), started: new Set() };
    const set = `state = 'done', locked_by = NULL, locked_until = NULL, finished_at = now(), last_error = NULL`;
    let rows: Row[];
    if (start.length > 0) {
      // Acknowledge, and record the starts of jobs held ahead, in one statement.
      rows = await this.#query(
        `WITH d AS (
           UPDATE ${this.#s}.jobs j SET ${set}
           FROM unnest($1::bigint[], $2::integer[]) AS a(id, attempts)
           WHERE j.id = a.id AND j.attempts = a.attempts AND j.locked_by = $3 AND j.state = 'running'
           RETURNING j.id, j.queue),
         s AS (
           UPDATE ${this.#s}.jobs SET started_at = now()
           WHERE id = ANY($4::bigint[]) AND locked_by = $3 AND state = 'running' AND started_at IS NULL
           RETURNING id)
         SELECT 'done' AS what, id, queue FROM d UNION ALL SELECT 'started', id, NULL FROM s`,
        [jobs.map((j) => j.id), jobs.map((j) => j.attempts), token, start.map((j) => j.id)],
      );
    } else if (jobs.length === 1) {
      rows = await this.#query(
        `UPDATE ${this.#s}.jobs SET ${set}
         WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND state = 'running' RETURNING 'done' AS what, id, queue`,
        [jobs[0]!.id, token, jobs[0]!.attempts],
      );
    } else {
      rows = await this.#query(
        `UPDATE ${this.#s}.jobs j SET ${set}
         FROM unnest($1::bigint[], $2::integer[]) AS a(id, attempts)
         WHERE j.id = a.id AND j.attempts = a.attempts AND j.locked_by = $3 AND j.state = 'running'
         RETURNING 'done' AS what, j.id, j.queue`,
        [jobs.map((j) => j.id), jobs.map((j) => j.attempts), token],
      );
    }
    const done = rows.filter((r) => r['what'] === 'done');
    await this.#queuesFreed(done);
    return {
      done: new Set(done.map((r) => String(r['id']))),
      started: new Set(rows.filter((r) => r['what'] === 'started').map((r) => String(r['id']))),
    };
  }

  async fail(job: Job, token: string, error: string, retryInMs: number | null): Promise<boolean> {
    const rows = await this.#query(
      `UPDATE ${this.#s}.jobs SET last_error = $4, locked_by = NULL, locked_until = NULL,
         state = CASE WHEN $5::float8 IS NULL THEN 'failed' WHEN $5::float8 > 0 THEN 'scheduled' ELSE 'pending' END,
         run_at = CASE WHEN $5::float8 IS NULL THEN run_at ELSE now() + $5::float8 ${ms} END,
         finished_at = CASE WHEN $5::float8 IS NULL THEN now() END
       WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND state = 'running' RETURNING id, queue, state`,
      [job.id, token, job.attempts, error, retryInMs],
    );
    await this.#queuesFreed(rows.filter((r) => r['state'] === 'failed'));
    return rows.length === 1;
  }

  async release(job: Job, token: string): Promise<boolean> {
    const rows = await this.#query(
      `UPDATE ${this.#s}.jobs SET state = 'pending', locked_by = NULL, locked_until = NULL, started_at = NULL,
         attempts = attempts - 1
       WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND state = 'running' RETURNING id`,
      [job.id, token, job.attempts],
    );
    if (rows.length === 1) await this.#notify(job.kind);
    return rows.length === 1;
  }

  async #notify(kind: string): Promise<void> {
    await this.#query('SELECT pg_notify($1, $2)', [channelOf(this.#schema), kind]);
  }

  /** Jobs of named queues ended: wake the consumers of each queue's next job. */
  async #queuesFreed(rows: Row[]): Promise<void> {
    const queues = [...new Set(rows.map((r) => r['queue']).filter((q): q is string => typeof q === 'string'))];
    if (queues.length === 0) return;
    await this.#query(
      `SELECT pg_notify($2, h.kind) FROM unnest($1::text[]) AS q(name)
       CROSS JOIN LATERAL (SELECT kind FROM ${this.#s}.jobs WHERE queue = q.name AND state IN ${LIVE} ORDER BY id LIMIT 1) AS h`,
      [queues, channelOf(this.#schema)],
    );
  }

  async reap(kind: string, liveTokens: string[]): Promise<number> {
    const rows = await this.#query(
      `UPDATE ${this.#s}.jobs SET locked_by = NULL, locked_until = NULL, started_at = NULL,
         -- a job held ahead and never started gets its attempt back
         attempts = attempts - CASE WHEN started_at IS NULL THEN 1 ELSE 0 END,
         last_error = CASE WHEN started_at IS NULL THEN last_error ELSE '${LEASE_EXPIRED}' END,
         state = CASE WHEN started_at IS NOT NULL AND attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
         finished_at = CASE WHEN started_at IS NOT NULL AND attempts >= max_attempts THEN now() END
       WHERE kind = $1 AND state = 'running' AND locked_until < now() AND NOT (locked_by = ANY($2::text[]))
       RETURNING id, queue, state`,
      [kind, liveTokens],
    );
    await this.#queuesFreed(rows.filter((r) => r['state'] === 'failed'));
    return rows.length;
  }

  async subscribe(wake: (kind: string) => void, onError: (err: Error) => void): Promise<() => Promise<void>> {
    try {
      return await this.#db_.listen(channelOf(this.#schema), wake, (err) => onError(new StoreError(this.name, err)));
    } catch (err) {
      throw new StoreError(this.name, err);
    }
  }

  async get(id: string): Promise<Job | null> {
    const rows = await this.#query(`SELECT * FROM ${this.#s}.jobs WHERE id = $1`, [id]);
    return rows[0] ? rowToJob(rows[0]) : null;
  }

  async counts(): Promise<Counts> {
    const rows = await this.#query(`SELECT kind, state, count(*)::integer AS n FROM ${this.#s}.jobs GROUP BY kind, state`);
    const total = emptyStateCounts();
    const byKind: Counts['byKind'] = {};
    for (const r of rows) {
      const state = publicState(r['state']);
      const n = Number(r['n']);
      total[state] += n;
      (byKind[r['kind'] as string] ??= emptyStateCounts())[state] += n;
    }
    return { total, byKind };
  }

  async failed(kind: string | null, limit: number): Promise<Job[]> {
    const rows = await this.#query(
      `SELECT * FROM ${this.#s}.jobs WHERE state = 'failed' AND ($1::text IS NULL OR kind = $1)
       ORDER BY finished_at DESC, id DESC LIMIT $2`,
      [kind, limit],
    );
    return rows.map(rowToJob);
  }

  async retry(id: string): Promise<Job | null> {
    try {
      const rows = await this.#query(
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
      if ((err as StoreError).sqlState !== '23505') throw err;
    }
    return this.get(id);
  }

  async cancel(id: string): Promise<Job | null> {
    const rows = await this.#query(
      `UPDATE ${this.#s}.jobs SET state = 'cancelled', finished_at = now(), locked_by = NULL, locked_until = NULL
       WHERE id = $1 AND state IN ${LIVE} RETURNING *`,
      [id],
    );
    await this.#queuesFreed(rows);
    return rows[0] ? rowToJob(rows[0]) : this.get(id);
  }

  async prune(olderThanMs: number, states: JobState[]): Promise<number> {
    // In batches, counting in the database: a million old rows cost neither a million ids in
    // memory nor one long transaction.
    let total = 0;
    for (;;) {
      const rows = await this.#query(
        `WITH d AS (DELETE FROM ${this.#s}.jobs WHERE id IN (
           SELECT id FROM ${this.#s}.jobs WHERE state = ANY($1::text[]) AND finished_at < now() - $2::float8 ${ms} LIMIT ${PRUNE_BATCH})
           RETURNING 1)
         SELECT count(*)::integer AS n FROM d`,
        [states, olderThanMs],
      );
      const n = Number(rows[0]!['n']);
      total += n;
      if (n < PRUNE_BATCH) return total;
    }
  }

  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows = await this.#query(
      `INSERT INTO ${this.#s}.leases (name, holder, expires_at) VALUES ($1, $2, now() + $3::float8 ${ms})
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE ${this.#s}.leases.holder = excluded.holder OR ${this.#s}.leases.expires_at < now()
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return rows.length === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#query(`DELETE FROM ${this.#s}.leases WHERE name = $1 AND holder = $2`, [name, holder]);
  }

  async putSchedule(spec: ScheduleSpec): Promise<void> {
    await this.#query(
      `INSERT INTO ${this.#s}.schedules (name, cron, kind, payload, timezone, last_tick_ms)
       VALUES ($1, $2, $3, $4::jsonb, $5, (extract(epoch FROM now()) * 1000)::bigint)
       ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, kind = excluded.kind, payload = excluded.payload,
         timezone = excluded.timezone`,
      [spec.name, spec.cron, spec.kind, spec.payloadJson, spec.timezone],
    );
  }

  async deleteSchedule(name: string): Promise<boolean> {
    return (await this.#query(`DELETE FROM ${this.#s}.schedules WHERE name = $1 RETURNING name`, [name])).length === 1;
  }

  async schedules(): Promise<{ list: StoredSchedule[]; nowMs: number }> {
    const rows = await this.#query(
      `SELECT s.name, s.cron, s.kind, s.payload::text AS payload_json, s.timezone, s.last_tick_ms::float8 AS last_tick_ms,
         (extract(epoch FROM now()) * 1000)::float8 AS now_ms
       FROM (SELECT 1) AS one LEFT JOIN ${this.#s}.schedules s ON true ORDER BY s.name`,
    );
    const nowMs = Number(rows[0]!['now_ms']);
    const list = rows
      .filter((r) => r['name'] !== null)
      .map((r) => ({
        name: r['name'] as string,
        cron: r['cron'] as string,
        kind: r['kind'] as string,
        payloadJson: r['payload_json'] as string,
        timezone: (r['timezone'] as string | null) ?? null,
        lastTickMs: Number(r['last_tick_ms']),
      }));
    return { list, nowMs };
  }

  async tick(name: string, fromTickMs: number, toTickMs: number, job: NewJob): Promise<boolean> {
    const rows = await this.#query(
      `WITH t AS (UPDATE ${this.#s}.schedules SET last_tick_ms = $3 WHERE name = $1 AND last_tick_ms = $2 RETURNING 1)
       INSERT INTO ${this.#s}.jobs (kind, payload, priority, max_attempts, key, queue, run_at)
       SELECT $4, $5::jsonb, $6, $7, $8, $9, to_timestamp($3::float8 / 1000) FROM t
       RETURNING id`,
      [name, fromTickMs, toTickMs, job.kind, job.payloadJson, job.priority, job.maxAttempts, job.key, job.queue],
    );
    return rows.length === 1;
  }
}

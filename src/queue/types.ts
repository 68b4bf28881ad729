// The queue's public shapes (Job, options, events) and the Store contract every backend
// (memory, PGlite, PostgreSQL) fulfils. The JobQueue and its consumers speak only to Store,
// so the same behaviour holds on every backend.

import type { Clock } from '../core/index.js';

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Job<P = unknown> {
  /** Store-assigned id, a decimal string (a PostgreSQL bigint). */
  id: string;
  kind: string;
  payload: P;
  state: JobState;
  /** Runs started so far (a claim counts as a run, even if its consumer then died). */
  attempts: number;
  maxAttempts: number;
  priority: number;
  runAt: Date;
  key?: string;
  /** Named queue: jobs sharing it run one at a time, in add order, across every consumer. */
  queue?: string;
  /** The last run's error; cleared when a run succeeds. */
  lastError?: string;
  createdAt: Date;
  /** When the job last ended (done, failed or cancelled). */
  finishedAt?: Date;
}

export interface AddOptions {
  /** Do not start before this time. Wins over `delayMs`. */
  runAt?: Date | number;
  /** Do not start before `delayMs` from now (the store's now). */
  delayMs?: number;
  /** Integer, larger runs first. Default 0. */
  priority?: number;
  /** Runs allowed, counting the first; 1 means no retry. Default 5. */
  maxAttempts?: number;
  /** While a job with this key is pending or running, `add` returns it instead of adding. */
  key?: string;
  /**
   * Jobs with the same queue name run one at a time, in add order, across every consumer of
   * every kind (graphile-worker's named queues). A job waiting for a retry holds its queue.
   */
  queue?: string;
}

export interface BackoffOptions {
  /** Delay before the first retry. Default 1000. */
  initialMs?: number;
  /** Growth per retry. Default 2. */
  factor?: number;
  /** Cap. Default 3 600 000 (1 h). */
  maxMs?: number;
  /** Spread, as a fraction either side. Default 0.1 (±10%). */
  jitter?: number;
}

export interface WorkerOptions {
  /** Handlers running at once. Default 1. */
  concurrency?: number;
  /** How long a claim lasts without renewal; renewed every leaseMs/2. Default 30 000. */
  leaseMs?: number;
  /** Longest wait between looks for due jobs when no wake-up comes. Default 1000. */
  pollMs?: number;
  /**
   * Most jobs claimed by one query. Default min(concurrency, 100). Above `concurrency`, the
   * consumer claims ahead: up to batchSize jobs are held (leased, renewed, released at once on
   * kill) and started as handler slots free, saving database round trips for short jobs.
   */
  batchSize?: number;
  backoff?: BackoffOptions;
  /**
   * After kill, how long to wait for handlers to settle. Default 3000. A handler still running
   * then is reported (`stuck` event, error log) and its job stays held, its lease renewed,
   * until the handler settles: a job is never run by two handlers at once.
   */
  graceMs?: number;
  /**
   * A handler still running after this long is aborted with a TimeoutError and its attempt
   * fails with that error (retried like any failure). Default: no timeout.
   */
  timeoutMs?: number;
}

export interface LeaseOptions {
  /** A holder that stops renewing loses the lease after this long. */
  ttlMs: number;
}

/** What consumers report, for metrics and status pages (see `JobQueue.onEvent`). */
export type JobEvent =
  | { type: 'start'; job: Job; /** runAt (or claim, if later) to handler start */ latencyMs: number }
  | { type: 'done'; job: Job; durationMs: number }
  | { type: 'error'; job: Job; durationMs: number; error: Error; /** false: the job is now failed */ willRetry: boolean }
  | { type: 'released'; job: Job }
  | { type: 'lease-lost'; job: Job }
  /** A handler was aborted (kill, timeout) and has not settled after `graceMs`; its job stays held. */
  | { type: 'stuck'; job: Job; reason: Error };

export interface Counts {
  /** Jobs by state, all kinds. */
  total: Record<JobState, number>;
  /** Jobs by kind, then state. */
  byKind: Record<string, Record<JobState, number>>;
}

/** A job ready for the store: validated, payload already JSON text. */
export interface NewJob {
  kind: string;
  payloadJson: string;
  /** Absolute epoch ms, or null to use the store's now + delayMs. */
  runAtMs: number | null;
  delayMs: number;
  priority: number;
  maxAttempts: number;
  key: string | null;
  queue: string | null;
}

/** A recurring job as `q.schedule` stores it. */
export interface ScheduleSpec {
  name: string;
  cron: string;
  kind: string;
  payloadJson: string;
  timezone: string | null;
}

/** A stored schedule and the last tick it added a job for (epoch ms). */
export interface StoredSchedule extends ScheduleSpec {
  lastTickMs: number;
}

/** A claimed job: the job plus the claim's proof of ownership. */
export interface Claim {
  job: Job;
  /** ms the job waited between due and claim, by the store's clock. */
  waitMs: number;
}

/** Internal contract between JobQueue and a backend. Not for users to implement (yet). */
export interface Store {
  readonly name: string;
  /** Connects and runs migrations. Called once by JobQueue.open. */
  open(ctx: { clock: Clock }): Promise<void>;
  close(): Promise<void>;
  /** Adds in order; a pending/running job with the same key is returned instead. */
  add(jobs: NewJob[]): Promise<Job[]>;
  /**
   * Claims up to `n` due jobs of `kind` in priority desc, runAt, id order for `leaseMs`, at most
   * one per named queue and only a queue's first live job, counting an attempt for each. The
   * first `startN` are marked started; the rest are held ahead until `start` marks them (a job
   * never marked gets its attempt back when reaped). Also says, when fewer than `n` were
   * claimed, in how many ms the next job of `kind` is due.
   */
  claim(kind: string, n: number, startN: number, leaseMs: number, token: string): Promise<{ claims: Claim[]; nextDueMs: number | null }>;
  /** Records that jobs held ahead have started. Returns the ids still held and now marked. */
  start(jobs: Job[], token: string): Promise<Set<string>>;
  /** Extends the leases still held; returns the ids still held. */
  renew(ids: string[], leaseMs: number, token: string): Promise<Set<string>>;
  /**
   * Marks claimed jobs done (clearing lastError) and, in the same statement, records `start`
   * as started (as `start` does); returns the ids marked done and the ids marked started.
   */
  completeMany(jobs: Job[], token: string, start?: Job[]): Promise<{ done: Set<string>; started: Set<string> }>;
  /** Records an error; retry after `retryInMs`, or mark failed when null. */
  fail(job: Job, token: string, error: string, retryInMs: number | null): Promise<boolean>;
  /** Gives a claimed job back, pending now, its attempt not counted. */
  release(job: Job, token: string): Promise<boolean>;
  /**
   * Makes jobs of `kind` whose lease expired pending again (or failed if out of attempts),
   * except those held by `liveTokens` (consumers in this process, alive but maybe blocked).
   */
  reap(kind: string, liveTokens: string[]): Promise<number>;
  /** Calls `wake(kind)` when jobs of a kind may have become available ('' for any kind). */
  subscribe(wake: (kind: string) => void, onError: (err: Error) => void): Promise<() => Promise<void>>;
  get(id: string): Promise<Job | null>;
  counts(): Promise<Counts>;
  failed(kind: string | null, limit: number): Promise<Job[]>;
  retry(id: string): Promise<Job | null>;
  cancel(id: string): Promise<Job | null>;
  /** Deletes finished jobs in `states` that ended over `olderThanMs` ago; returns how many. */
  prune(olderThanMs: number, states: JobState[]): Promise<number>;
  /** Takes or renews lease `name` for `holder`; true while held. */
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  /** Creates or replaces a schedule; a new one's last tick is now, a replaced one keeps its own. */
  putSchedule(spec: ScheduleSpec): Promise<void>;
  /** Removes a schedule; false if there was none. */
  deleteSchedule(name: string): Promise<boolean>;
  /** Every schedule, and the store's now (epoch ms). */
  schedules(): Promise<{ list: StoredSchedule[]; nowMs: number }>;
  /**
   * Adds `job` and moves the schedule's last tick from `fromTickMs` to `toTickMs`, atomically,
   * only if the last tick is still `fromTickMs`: of many schedulers exactly one adds each tick.
   */
  tick(name: string, fromTickMs: number, toTickMs: number, job: NewJob): Promise<boolean>;
}

export const JOB_STATES: readonly JobState[] = ['pending', 'running', 'done', 'failed', 'cancelled'];

export function emptyStateCounts(): Record<JobState, number> {
  return { pending: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
}

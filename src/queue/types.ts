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
  /** After kill, how long to wait for handlers before releasing their jobs. Default 3000. */
  graceMs?: number;
}

export interface LeaseOptions {
  /** A holder that stops renewing loses the lease after this long. */
  ttlMs: number;
  /**
   * Called after each successful take or renewal with the time, on the lease's clock, until
   * which the lease is surely held: the time just before the query plus ttlMs (the store set
   * the expiry from its own later now()). For fences that must stop the lease's work before it
   * could expire even when this process cannot act (bosun/fleet's singleton watchdog).
   */
  onHeld?: (untilMs: number) => void;
}

/** What consumers report, for metrics and status pages (see `JobQueue.onEvent`). */
export type JobEvent =
  | { type: 'start'; job: Job; /** runAt (or claim, if later) to handler start */ latencyMs: number }
  | { type: 'done'; job: Job; durationMs: number }
  | { type: 'error'; job: Job; durationMs: number; error: Error; /** false: the job is now failed */ willRetry: boolean }
  | { type: 'released'; job: Job }
  | { type: 'lease-lost'; job: Job };

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
  /** Claims up to `n` due jobs of `kind` in priority desc, runAt, id order for `leaseMs`. */
  claim(kind: string, n: number, leaseMs: number, token: string): Promise<Claim[]>;
  /** Extends the leases still held; returns the ids still held. */
  renew(ids: string[], leaseMs: number, token: string): Promise<Set<string>>;
  /** Marks a claimed job done; false if the claim was lost meanwhile. */
  complete(job: Job, token: string): Promise<boolean>;
  /** complete() for several jobs in one statement; returns the ids it marked done. */
  completeMany(jobs: Job[], token: string): Promise<Set<string>>;
  /** Records an error; retry after `retryInMs`, or mark failed when null. */
  fail(job: Job, token: string, error: string, retryInMs: number | null): Promise<boolean>;
  /** Gives a claimed job back, pending now, its attempt not counted. */
  release(job: Job, token: string): Promise<boolean>;
  /** Makes jobs of `kind` whose lease expired pending again (or failed if out of attempts). */
  reap(kind: string): Promise<number>;
  /** ms until the next pending job of `kind` is due (0 if one is due), null if none. */
  nextDueInMs(kind: string): Promise<number | null>;
  /** Calls `wake(kind)` when jobs of a kind may have become available. Returns an unsubscribe. */
  subscribe(wake: (kind: string) => void): Promise<() => Promise<void>>;
  get(id: string): Promise<Job | null>;
  counts(): Promise<Counts>;
  failed(kind: string | null, limit: number): Promise<Job[]>;
  retry(id: string): Promise<Job | null>;
  cancel(id: string): Promise<Job | null>;
  prune(olderThanMs: number, states: JobState[]): Promise<number>;
  /** Takes or renews lease `name` for `holder`; true while held. */
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
}

export const JOB_STATES: readonly JobState[] = ['pending', 'running', 'done', 'failed', 'cancelled'];

export function emptyStateCounts(): Record<JobState, number> {
  return { pending: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
}

// JobQueue: the handle users hold. It validates what is added (payload.ts, the one validation
// in front of every store), hands it to its store, makes consumers (`worker`), singleton
// leases (`lease`) and schedulers (`scheduler`) that are ordinary Workers, answers operators'
// questions, and reports job events for metrics. close() stops everything it started, then
// closes the store's connections.

import { silentLogger, systemClock, type Clock, type Logger, type Worker } from '../core/index.js';
import { startConsumer, type Handler } from './consumer.js';
import { QueueClosedError } from './errors.js';
import { KindHub } from './kind-hub.js';
import { startLease, type LeaseStart } from './lease.js';
import { checkKind, checkText, MAX_DELAY_MS, newJob, parseId } from './payload.js';
import { scheduleSpec, startScheduler, type ScheduleOptions, type SchedulerOptions } from './scheduler.js';
import type { SqlStore } from './sql-store.js';
import type { AddOptions, Counts, Job, JobEvent, JobState, LeaseOptions, Store, WorkerOptions } from './types.js';

export interface JobQueueOptions {
  store: Store;
  /** Drives the consumers' timers; a memoryStore also takes job times from it. Default systemClock. */
  clock?: Clock;
  logger?: Logger;
}

export interface AddManyItem {
  kind: string;
  payload: unknown;
  options?: AddOptions;
}

export class JobQueue {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #workers = new Set<Worker>();
  readonly #listeners = new Set<(event: JobEvent) => void>();
  readonly #hubs = new Map<string, KindHub>();
  /** Claim tokens of this queue's live consumers: never reaped by them, even when overdue. */
  readonly #tokens = new Set<string>();
  readonly #closingSignal = new AbortController();
  /** Consumers' leftovers: handlers that ignored their abort, whose jobs stay held. */
  readonly #lingering = new Set<Promise<void>>();
  #unsubscribe: (() => Promise<void>) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(options: JobQueueOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Connects the store, runs its migrations (once, under a lock) and returns the queue. */
  static async open(options: JobQueueOptions): Promise<JobQueue> {
    if (!options?.store) throw new TypeError('JobQueue.open needs a store: memoryStore(), pgliteStore() or postgresStore()');
    const q = new JobQueue(options);
    await q.#store.open({ clock: q.#clock });
    try {
      q.#unsubscribe = await q.#store.subscribe(
        (kind) => q.#wake(kind),
        (err) => q.#logger.warn({ err }, 'queue notifications lost; consumers poll while they reconnect'),
      );
    } catch (err) {
      await q.#store.close().catch(() => {});
      throw err;
    }
    return q;
  }

  /** A notification: one idle consumer of the kind looks (of every kind for ''). */
  #wake(kind: string): void {
    if (kind === '') for (const hub of this.#hubs.values()) hub.nudge();
    else this.#hubs.get(kind)?.nudge();
  }

  #hub(kind: string): KindHub {
    let hub = this.#hubs.get(kind);
    if (hub === undefined) this.#hubs.set(kind, (hub = new KindHub()));
    return hub;
  }

  #open(): void {
    if (this.#closed) throw new QueueClosedError();
  }

  /** Adds one job; with a `key` held by a pending or running job, resolves to that job unchanged. */
  async add<P = unknown>(kind: string, payload: P, options?: AddOptions): Promise<Job<P>> {
    const job = newJob(kind, payload, options);
    this.#open();
    const [added] = await this.#store.add([job]);
    return added as Job<P>;
  }

  /** Adds many jobs in one statement (all or none); results in input order. */
  async addMany(items: AddManyItem[]): Promise<Job[]> {
    const jobs = items.map((it, i) => {
      try {
        return newJob(it.kind, it.payload, it.options);
      } catch (err) {
        if (err instanceof Error) err.message = `addMany item ${i}: ${err.message}`;
        throw err;
      }
    });
    this.#open();
    return this.#store.add(jobs);
  }

  /**
   * A consumer of `kind`: a Worker running `handler` for each job, at least once. The handler's
   * signal aborts when the worker is killed or the job's lease is lost.
   */
  worker<P = unknown>(kind: string, handler: Handler<P>, options?: WorkerOptions): Worker {
    checkKind(kind);
    if (typeof handler !== 'function') throw new TypeError('worker handler must be a function');
    this.#open();
    const w = startConsumer(
      {
        store: this.#store,
        clock: this.#clock,
        logger: this.#logger,
        emit: (e) => this.#emit(e),
        hub: this.#hub(kind),
        tokens: this.#tokens,
        reserve: (n) => (this.#store as Partial<SqlStore>).reserve?.(n),
        closing: this.#closingSignal.signal,
        linger: (done) => {
          this.#lingering.add(done);
          void done.finally(() => this.#lingering.delete(done));
        },
      },
      kind,
      handler,
      options,
    );
    return this.#track(w);
  }

  /** A singleton lease among all contenders sharing the store; see lease.ts. */
  lease(name: string, options: LeaseOptions, start: LeaseStart): Worker {
    checkText('lease name', name);
    this.#open();
    return this.#track(startLease({ store: this.#store, clock: this.#clock, logger: this.#logger }, name, options, start));
  }

  #track(w: Worker): Worker {
    this.#workers.add(w);
    w.wait().then(
      () => this.#workers.delete(w),
      () => this.#workers.delete(w),
    );
    return w;
  }

  /** Listens to job events (start with latency, done and error with duration, released, lease-lost). */
  onEvent(listener: (event: JobEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: JobEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#logger.warn({ err }, 'job event listener threw');
      }
    }
  }

  /** Stores (or replaces) the recurring job `name`: every running scheduler() adds its job once per tick. */
  async schedule(name: string, options: ScheduleOptions): Promise<void> {
    const spec = scheduleSpec(name, options);
    this.#open();
    await this.#store.putSchedule(spec);
  }

  /** Removes the recurring job `name`; resolves false if there was none. */
  async unschedule(name: string): Promise<boolean> {
    checkText('schedule name', name);
    this.#open();
    return this.#store.deleteSchedule(name);
  }

  /** The schedules stored, with the last tick each added a job for. */
  async schedules(): Promise<{ name: string; cron: string; kind: string; payload: unknown; timezone?: string; lastTick: Date }[]> {
    this.#open();
    const { list } = await this.#store.schedules();
    return list.map((s) => ({
      name: s.name,
      cron: s.cron,
      kind: s.kind,
      payload: JSON.parse(s.payloadJson) as unknown,
      ...(s.timezone !== null ? { timezone: s.timezone } : {}),
      lastTick: new Date(s.lastTickMs),
    }));
  }

  /**
   * A Worker adding the job of each due tick of every stored schedule. Run any number, on any
   * host: each tick is added exactly once; ticks missed while none ran are made up once.
   */
  scheduler(options?: SchedulerOptions): Worker {
    this.#open();
    return this.#track(startScheduler({ store: this.#store, clock: this.#clock, logger: this.#logger }, options));
  }

  /** The job with `id`, or null (also for an id no store could hold). */
  async get(id: string): Promise<Job | null> {
    this.#open();
    const parsed = parseId(id);
    return parsed === null ? null : this.#store.get(parsed);
  }

  counts(): Promise<Counts> {
    this.#open();
    return this.#store.counts();
  }

  /** Failed jobs, newest first. Default limit 100. */
  async failed(options: { kind?: string; limit?: number } = {}): Promise<Job[]> {
    const kind = options.kind === undefined ? null : checkKind(options.kind);
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`failed() limit must be an integer >= 0, got ${String(limit)}`);
    this.#open();
    return this.#store.failed(kind, Math.min(limit, 2_147_483_647));
  }

  /** A failed or cancelled job becomes pending now with attempts reset. Other states: unchanged. Null if there is no such job. */
  async retry(id: string): Promise<Job | null> {
    this.#open();
    const parsed = parseId(id);
    return parsed === null ? null : this.#store.retry(parsed);
  }

  /** A pending or running job becomes cancelled (a running handler's signal aborts at its next renewal). Null if there is no such job. */
  async cancel(id: string): Promise<Job | null> {
    this.#open();
    const parsed = parseId(id);
    return parsed === null ? null : this.#store.cancel(parsed);
  }

  /**
   * Deletes finished jobs (default: done and cancelled, not failed) that ended over
   * `olderThanMs` ago; resolves to how many.
   */
  async prune(options: { olderThanMs: number; states?: JobState[] }): Promise<number> {
    const olderThanMs = options?.olderThanMs;
    if (typeof olderThanMs !== 'number' || !(olderThanMs >= 0))
      throw new RangeError(`prune needs olderThanMs >= 0, got ${String(olderThanMs)}`);
    const states = options.states ?? ['done', 'cancelled'];
    for (const s of states) {
      if (s !== 'done' && s !== 'failed' && s !== 'cancelled') throw new RangeError(`prune cannot remove ${s} jobs`);
    }
    this.#open();
    // Nothing ended more than ~3,000 years ago; and the database could not subtract that much.
    if (olderThanMs > MAX_DELAY_MS || states.length === 0) return 0;
    return this.#store.prune(olderThanMs, states);
  }

  /** Stops the queue's workers and leases (waiting for them), then closes the store. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      const workers = [...this.#workers];
      for (const w of workers) w.kill();
      await Promise.allSettled(workers.map((w) => w.wait()));
      // Handlers that ignored their abort keep their jobs only while the queue is open.
      if (this.#lingering.size > 0) {
        this.#logger.warn(
          { jobs: this.#lingering.size },
          'closing with handlers still running; their jobs are redelivered after their leases',
        );
      }
      this.#closingSignal.abort();
      await Promise.allSettled([...this.#lingering]);
      await this.#unsubscribe?.().catch(() => {});
      await this.#store.close();
    })();
    return this.#closing;
  }
}

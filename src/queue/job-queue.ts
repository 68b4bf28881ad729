// JobQueue: the handle users hold. It validates what is added, hands it to its store, makes
// consumers (`worker`) and singleton leases (`lease`) that are ordinary Workers, answers
// operators' questions, and reports job events for metrics. close() stops everything it
// started, then closes the store's connections.

import { silentLogger, systemClock, type Clock, type Logger, type Worker } from '../core/index.js';
import { startConsumer, type Handler } from './consumer.js';
import { QueueClosedError } from './errors.js';
import { startLease, type LeaseStart } from './lease.js';
import { checkKind, newJob } from './payload.js';
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
  readonly #wakers = new Map<string, Set<() => void>>();
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
      q.#unsubscribe = await q.#store.subscribe((kind) => q.#wake(kind));
    } catch (err) {
      await q.#store.close().catch(() => {});
      throw err;
    }
    return q;
  }

  #wake(kind: string): void {
    if (kind === '') {
      for (const set of this.#wakers.values()) for (const fn of set) fn();
    } else {
      for (const fn of this.#wakers.get(kind) ?? []) fn();
    }
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
        onWake: (k, fn) => {
          let set = this.#wakers.get(k);
          if (!set) this.#wakers.set(k, (set = new Set()));
          set.add(fn);
          return () => set.delete(fn);
        },
        reserve: (n) => (this.#store as Partial<SqlStore>).reserve?.(n),
      },
      kind,
      handler,
      options,
    );
    return this.#track(w);
  }

  /** A singleton lease among all contenders sharing the store; see lease.ts. */
  lease(name: string, options: LeaseOptions, start: LeaseStart): Worker {
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

  get(id: string): Promise<Job | null> {
    this.#open();
    return this.#store.get(String(id));
  }

  counts(): Promise<Counts> {
    this.#open();
    return this.#store.counts();
  }

  /** Failed jobs, newest first. Default limit 100. */
  failed(options: { kind?: string; limit?: number } = {}): Promise<Job[]> {
    this.#open();
    return this.#store.failed(options.kind ?? null, options.limit ?? 100);
  }

  /** A failed or cancelled job becomes pending now with attempts reset. Other states: unchanged. */
  retry(id: string): Promise<Job | null> {
    this.#open();
    return this.#store.retry(String(id));
  }

  /** A pending or running job becomes cancelled (a running handler's signal aborts at its next renewal). */
  cancel(id: string): Promise<Job | null> {
    this.#open();
    return this.#store.cancel(String(id));
  }

  /** Deletes finished jobs (default: done and cancelled, not failed) that ended over `olderThanMs` ago. */
  prune(options: { olderThanMs: number; states?: JobState[] }): Promise<number> {
    this.#open();
    if (!(options?.olderThanMs >= 0)) throw new RangeError('prune needs olderThanMs >= 0');
    const states = options.states ?? ['done', 'cancelled'];
    for (const s of states) {
      if (s !== 'done' && s !== 'failed' && s !== 'cancelled') throw new RangeError(`prune cannot remove ${s} jobs`);
    }
    return this.#store.prune(options.olderThanMs, states);
  }

  /** Stops the queue's workers and leases (waiting for them), then closes the store. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      const workers = [...this.#workers];
      for (const w of workers) w.kill();
      await Promise.allSettled(workers.map((w) => w.wait()));
      await this.#unsubscribe?.().catch(() => {});
      await this.#store.close();
    })();
    return this.#closing;
  }
}

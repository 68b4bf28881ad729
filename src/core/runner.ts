// Runner: juju's worker runner, built on Supervisor. Workers are added and removed by id
// at any time; an erroring worker restarts after `restartDelayMs`, one that stops cleanly
// is removed, and a fatal error stops them all, the runner failing with the most
// important fatal error seen. The restarts are the supervisor's: there is no second loop.

import { isWorker, type ChildInfo, type ShutdownMs } from './child-spec.js';
import type { Clock } from './clock.js';
import { AlreadyExistsError, DeadError, NotFoundError, toError } from './errors.js';
import type { Logger } from './logger.js';
import type { Listener } from './events.js';
import { Supervisor, type SupervisorEvents } from './supervisor.js';
import { quiet, startWorker, type Worker } from './worker.js';

export interface RunnerOptions {
  /** An error for which this returns true stops every worker and the runner. Default: no error is fatal. */
  isFatal?: (err: Error) => boolean;
  /** Whether `a` is more important than `b`, to pick the runner's final error. Default: the first fatal error wins. */
  moreImportant?: (a: Error, b: Error) => boolean;
  /** Wait after a worker's error before starting it again, in ms. Default 3000. */
  restartDelayMs?: number;
  /** How long to wait for a worker to stop; see `ShutdownMs`. Default `'infinity'`, as juju waits. */
  shutdownMs?: ShutdownMs;
  clock?: Clock;
  logger?: Logger;
  /** Default `'runner'`. */
  name?: string;
}

export type RunnerStart = (signal: AbortSignal) => Worker | Promise<Worker>;

export interface RunnerReport {
  state: 'running' | 'stopping' | 'stopped';
  workers: Record<string, { state: ChildInfo['state']; restarts: number; lastError?: string; startedAt?: number }>;
}

interface Waiter {
  resolve: (w: Worker) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

interface Entry {
  /** The current run's worker; undefined while starting or waiting to restart. */
  worker: Worker | undefined;
  waiters: Set<Waiter>;
}

/**
 * Runs a changing set of named workers (juju/worker's Runner). `startWorker(id, start)`
 * resolves once the worker is registered and its `start` called (a promise from `start` is
 * not waited for); use `worker(id)` to get the
 * Worker itself, waiting while it starts or restarts. Unlike a Supervisor's children, a
 * worker that stops cleanly is done (removed), and errors never exhaust an intensity: a
 * non-fatal error restarts after `restartDelayMs`, always the same delay, forever.
 *
 * ```ts
 * const runner = new Runner({ isFatal: (err) => err instanceof AuthError });
 * await runner.startWorker(`watch-${unit}`, (signal) => watchUnit(unit, signal));
 * const w = await runner.worker(`watch-${unit}`, AbortSignal.timeout(5000));
 * await runner.stopWorker(`watch-${unit}`);
 * ```
 */
export class Runner implements Worker {
  /** A runner is a tree: its parent waits for it to stop as long as its workers take. */
  readonly kind = 'tree';
  readonly #sup: Supervisor;
  readonly #entries = new Map<string, Entry>();
  readonly #isFatal: (err: Error) => boolean;
  readonly #moreImportant: (a: Error, b: Error) => boolean;
  readonly #shutdownMs: ShutdownMs;
  #dying = false;
  #stopped = false;
  #fatal: Error | undefined;
  readonly #done: Promise<void>;

  constructor(options: RunnerOptions = {}) {
    const delay = options.restartDelayMs ?? 3000;
    if (!(delay >= 0) || !Number.isFinite(delay)) throw new RangeError(`restartDelayMs must be a number >= 0, got ${delay}`);
    this.#isFatal = options.isFatal ?? (() => false);
    this.#moreImportant = options.moreImportant ?? (() => false);
    this.#shutdownMs = options.shutdownMs ?? 'infinity';
    this.#sup = new Supervisor({
      name: options.name ?? 'runner',
      strategy: 'one_for_one',
      intensity: Infinity,
      backoff: { initialMs: delay, factor: 1, maxMs: delay, jitter: 0 },
      isFatal: this.#isFatal,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.#sup.on('childExited', ({ error }) => {
      if (error !== undefined && this.#isFatal(error)) {
        if (this.#fatal === undefined || this.#moreImportant(error, this.#fatal)) this.#fatal = error;
        this.#markDying();
      }
    });
    this.#sup.on('childRemoved', ({ id }) => this.#forget(id, () => new NotFoundError(`runner: worker ${id} was removed`)));
    this.#done = quiet(
      this.#sup.wait().then(
        () => this.#finish(undefined),
        (err: unknown) => this.#finish(toError(err)),
      ),
    );
  }

  /** Subscribes to the underlying supervisor's lifecycle events (ids are worker ids). */
  on<K extends keyof SupervisorEvents>(name: K, listener: Listener<SupervisorEvents[K]>): () => void {
    return this.#sup.on(name, listener);
  }

  /**
   * Registers and starts a worker under `id`. Rejects with AlreadyExistsError if `id` is in
   * use (also while it is stopping), DeadError once the runner is stopping. An error from
   * `start` (thrown or rejected) is the worker's error: it restarts after `restartDelayMs`.
   */
  async startWorker(id: string, start: RunnerStart): Promise<void> {
    if (this.#dying) throw new DeadError(`runner is stopping; cannot start worker ${id}`);
    if (typeof start !== 'function') throw new TypeError(`runner: start for worker ${id} must be a function`);
    if (this.#entries.has(id)) throw new AlreadyExistsError(`runner: worker ${id} already exists`);
    const entry: Entry = { worker: undefined, waiters: new Set() };
    this.#entries.set(id, entry);
    try {
      await this.#sup.startChild({
        id,
        restart: 'transient',
        shutdownMs: this.#shutdownMs,
        // The supervisor's child is always a Worker at once, so a slow or failing `start` is
        // the worker's own business (juju's runner retries it) and never a failed start.
        start: (signal) => {
          let result: Worker | Promise<Worker>;
          try {
            result = start(signal);
          } catch (err) {
            return startWorker(() => Promise.reject(err));
          }
          if (isWorker(result)) {
            this.#publish(entry, signal, result);
            return result;
          }
          return startWorker(async (own) => {
            const worker = await result;
            if (!isWorker(worker)) throw new TypeError(`runner: start for worker ${id} resolved to something that is not a Worker`);
            this.#publish(entry, signal, worker);
            const stop = () => worker.kill(own.reason);
            if (own.aborted) stop();
            else own.addEventListener('abort', stop, { once: true });
            try {
              await worker.wait();
            } finally {
              own.removeEventListener('abort', stop);
            }
          });
        },
      });
    } catch (err) {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      throw err;
    }
  }

  /** Stops the worker and removes it; resolves once it stopped. An unknown id is a no-op. */
  async stopWorker(id: string): Promise<void> {
    if (this.#dying) throw new DeadError(`runner is stopping; cannot stop worker ${id}`);
    try {
      await this.#sup.deleteChild(id);
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }

  /**
   * The current Worker for `id`, waiting while it starts or restarts. Rejects with
   * NotFoundError for an unknown (or removed) id, DeadError once the runner is stopping,
   * and the signal's reason if `signal` aborts first.
   */
  worker(id: string, signal?: AbortSignal): Promise<Worker> {
    if (this.#dying) return Promise.reject(new DeadError(`runner is stopping; no worker ${id}`));
    const entry = this.#entries.get(id);
    if (entry === undefined) return Promise.reject(new NotFoundError(`runner: no worker ${id}`));
    if (entry.worker !== undefined) return Promise.resolve(entry.worker);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Worker>((resolve, reject) => {
      const onAbort = () => settle(() => reject(signal!.reason));
      const waiter: Waiter = {
        resolve: (w) => settle(() => resolve(w)),
        reject: (err) => settle(() => reject(err)),
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      const settle = (fn: () => void) => {
        if (!entry.waiters.delete(waiter)) return;
        waiter.cleanup();
        fn();
      };
      entry.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ids of the workers the runner knows, running or waiting to restart, in start order. */
  workerNames(): string[] {
    return this.#sup.children().map((c) => c.id);
  }

  /** Each worker's state, restart count and last error, for status pages. */
  report(): RunnerReport {
    const workers: RunnerReport['workers'] = {};
    for (const c of this.#sup.children()) {
      workers[c.id] = { state: c.state, restarts: c.restarts };
      if (c.lastError !== undefined) workers[c.id]!.lastError = c.lastError.message;
      if (c.startedAt !== undefined) workers[c.id]!.startedAt = c.startedAt;
    }
    return { state: this.#stopped ? 'stopped' : this.#dying ? 'stopping' : 'running', workers };
  }

  /** Stops every worker, then resolves `wait()` (or rejects with the most important fatal error). */
  kill(reason?: unknown): void {
    this.#markDying();
    this.#sup.kill(reason);
  }

  wait(): Promise<void> {
    return this.#done;
  }

  /** Waiter counts per worker; for leak checks in tests. */
  pendingWaiters(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.waiters.size;
    return n;
  }

  #publish(entry: Entry, signal: AbortSignal | undefined, worker: Worker): void {
    if (signal?.aborted || !isWorker(worker)) return;
    entry.worker = worker;
    const gone = () => {
      if (entry.worker === worker) entry.worker = undefined;
    };
    worker.wait().then(gone, gone);
    for (const w of [...entry.waiters]) w.resolve(worker);
  }

  #forget(id: string, err: () => Error): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    for (const w of [...entry.waiters]) w.reject(err());
  }

  #markDying(): void {
    if (this.#dying) return;
    this.#dying = true;
    for (const id of [...this.#entries.keys()]) this.#forget(id, () => new DeadError(`runner is stopping; no worker ${id}`));
  }

  #finish(err: Error | undefined): void {
    this.#markDying();
    this.#stopped = true;
    const final = this.#fatal ?? err;
    if (final !== undefined) throw final;
  }
}

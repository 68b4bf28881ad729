// One run of a supervised child: the AbortSignal its start got, its Worker once known, how
// its start settles (OTP's start_link: a start may resolve its Worker only once ready, and a
// Worker may say when it has started), and how its exit reaches the supervisor. Also the
// supervisor's record of each child.

import { isWorker, type ChildState, type ResolvedSpec, type ShutdownMs } from './child-spec.js';
import type { Clock, TimerHandle } from './clock.js';
import type { RestartWindow } from './intensity.js';
import { DeadError, toError } from './errors.js';
import type { Worker } from './worker.js';
import { reusedWorker } from './reused-worker.js';

export interface ChildRecord {
  spec: ResolvedSpec;
  state: ChildState;
  restarts: number;
  lastError: Error | undefined;
  startedAt: number | undefined;
  /** When the last run began running, or when its start failed: how long it ran, for backoff reset. */
  lastAttemptAt: number;
  /** The current run (starting or running); undefined while not running or while being stopped. */
  run: ChildRun | undefined;
  /** Restarts in a row without a long enough run in between: the `n` of the next backoff delay. */
  failures: number;
  /** When a 'restarting' child is due; Infinity while its failed start awaits a decision. */
  dueAt: number;
  /** The child's own restart limit (ChildSpec.intensity), if it has one. */
  window: RestartWindow | undefined;
  /** The Worker of the last run that had one: a start that returns it again is refused (reused-worker.ts). */
  lastWorker?: Worker;
}

export type ExitFn = (run: ChildRun, err: unknown, failed: boolean) => void;

/** One run of a child: its signal, its worker once known, and how its exit is reported. */
export class ChildRun {
  worker: Worker | undefined = undefined;
  killed = false;
  exited = false;
  /** The start resolved nothing: the call was the work, and it has ended cleanly. */
  ended = false;
  killReason: unknown = undefined;
  /** While the start is pending: settles (never rejects) once it did, with its failure if it failed. */
  pending: Promise<Error | undefined> | undefined = undefined;
  /** Set while a stop waits for this run to exit. */
  onStopped: (() => void) | undefined = undefined;
  readonly ok: () => void;
  readonly fail: (err: unknown) => void;

  constructor(
    readonly record: ChildRecord,
    readonly abort: AbortController,
    readonly exit: ExitFn,
  ) {
    this.ok = () => exit(this, undefined, false);
    this.fail = (err: unknown) => exit(this, err, true);
  }

  watch(worker: Worker): void {
    this.worker = worker;
    let done: Promise<void>;
    try {
      done = worker.wait();
    } catch (err) {
      this.fail(err);
      return;
    }
    done.then(this.ok, this.fail);
  }

  /**
   * For a start that is not done when it returns (a promise, or a Worker with `started()`):
   * settles with undefined once the child runs (or its call, the work, has ended) and with
   * the Error when it failed to start. Never rejects. A Worker that came is in `worker`,
   * killed on arrival if the run was killed meanwhile; it is not watched yet.
   */
  async begin(result: Worker | PromiseLike<Worker | void>): Promise<Error | undefined> {
    let value: unknown = result;
    if (!isWorker(result)) {
      try {
        value = await result;
      } catch (err) {
        return toError(err);
      }
      if (value === undefined) {
        this.ended = true;
        return undefined;
      }
      if (!isWorker(value)) return new TypeError(`child ${this.record.spec.id}: start resolved to neither a Worker nor nothing`);
    }
    const worker = value as Worker;
    const reused = reusedWorker(this.record.spec.id, worker, this.record.lastWorker);
    if (reused !== undefined) return reused;
    this.record.lastWorker = worker;
    this.worker = worker;
    if (this.killed) this.#killWorker(worker);
    return typeof worker.started === 'function' ? startedOf(worker, this.record.spec.id) : undefined;
  }

  /** Aborts the run's signal and kills its worker. Returns what the worker's kill() threw, if anything. */
  kill(reason: unknown): unknown {
    if (this.killed) return undefined;
    this.killed = true;
    this.killReason = reason;
    this.abort.abort(reason);
    return this.worker === undefined ? undefined : this.#killWorker(this.worker);
  }

  /** kill() should never throw; if a worker's does, the stop still waits as `shutdownMs` says. */
  #killWorker(worker: Worker): unknown {
    try {
      worker.kill(this.killReason);
      return undefined;
    } catch (err) {
      return err;
    }
  }

  /**
   * After kill(): waits for the exit as `shutdown` says. Undefined if there is nothing to
   * wait for (already exited, or brutal); else resolves true on exit, false when abandoned.
   */
  exitWithin(shutdown: ShutdownMs, clock: Clock): Promise<boolean> | undefined {
    if (this.exited || shutdown === 'brutal') return undefined;
    return within(
      new Promise<void>((resolve) => {
        this.onStopped = () => {
          this.onStopped = undefined;
          resolve();
        };
      }),
      shutdown,
      clock,
      () => (this.onStopped = undefined),
    );
  }
}

/**
 * Resolves true once `done` settles, or false when `shutdown` ms pass first (never for
 * `'infinity'`; at once, true, for `'brutal'`). `onAbandon` runs when time is up.
 */
export function within(done: Promise<unknown>, shutdown: ShutdownMs, clock: Clock, onAbandon?: () => void): Promise<boolean> {
  if (shutdown === 'brutal') return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    let timer: TimerHandle | undefined;
    const settled = () => {
      timer?.clear();
      resolve(true);
    };
    done.then(settled, settled);
    if (shutdown === 'infinity') return;
    timer = clock.setTimeout(() => {
      onAbandon?.();
      resolve(false);
    }, shutdown);
  });
}

/**
 * Settles when `worker.started()` does: undefined once started, the Error if it rejects. A
 * Worker that stops before it said it started has failed to start too (with its own error,
 * or a DeadError for a clean stop), so a broken `started()` cannot hold a supervisor forever.
 */
function startedOf(worker: Worker, id: string): Promise<Error | undefined> {
  return new Promise<Error | undefined>((resolve) => {
    let started: Promise<void>;
    try {
      started = Promise.resolve(worker.started!());
    } catch (err) {
      resolve(toError(err));
      return;
    }
    started.then(
      () => resolve(undefined),
      (err: unknown) => resolve(toError(err)),
    );
    let done: Promise<void>;
    try {
      done = worker.wait();
    } catch (err) {
      resolve(toError(err));
      return;
    }
    done.then(
      () => resolve(new DeadError(`child ${id} stopped before it had started`)),
      (err: unknown) => resolve(toError(err)),
    );
  });
}

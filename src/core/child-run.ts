// One run of a supervised child: the AbortSignal its start got, its Worker once known, and
// how its exit reaches the supervisor. Also the supervisor's record of each child.

import { isWorker, type ChildState, type ResolvedSpec, type ShutdownMs } from './child-spec.js';
import type { Clock, TimerHandle } from './clock.js';
import type { RestartWindow } from './intensity.js';
import type { Worker } from './worker.js';

export interface ChildRecord {
  spec: ResolvedSpec;
  state: ChildState;
  restarts: number;
  lastError: Error | undefined;
  startedAt: number | undefined;
  /** When `start` was last called, even if it threw: how long the child ran, for backoff reset. */
  lastAttemptAt: number;
  /** The current run; undefined while not running or while being stopped. */
  run: ChildRun | undefined;
  /** Base of the next backoff delay. */
  baseDelayMs: number;
  /** When a 'restarting' child is due; Infinity while its failed start awaits a decision. */
  dueAt: number;
  /** The child's own restart limit (ChildSpec.intensity), if it has one. */
  window: RestartWindow | undefined;
}

export type ExitFn = (run: ChildRun, err: unknown, failed: boolean) => void;

/** One run of a child: its signal, its worker once known, and how its exit is reported. */
export class ChildRun {
  worker: Worker | undefined = undefined;
  killed = false;
  exited = false;
  killReason: unknown = undefined;
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

  /** For a start that returned a promise: the child is the Worker it brings, or the call itself. */
  settled(value: Worker | void): void {
    if (isWorker(value)) {
      if (this.killed) this.#killWorker(value);
      this.watch(value);
    } else if (value === undefined) this.ok();
    else this.fail(new TypeError(`child ${this.record.spec.id}: start resolved to neither a Worker nor nothing`));
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
    return new Promise<boolean>((resolve) => {
      let timer: TimerHandle | undefined;
      this.onStopped = () => {
        this.onStopped = undefined;
        timer?.clear();
        resolve(true);
      };
      if (shutdown === 'infinity') return;
      timer = clock.setTimeout(() => {
        this.onStopped = undefined;
        resolve(false);
      }, shutdown);
    });
  }
}

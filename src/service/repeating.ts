// The loop PeriodicTask and CronTask share: wait until the next due time (or a trigger), run
// `execute`, count the outcome, pick the next due time. TryLater retries after its delay; an
// error is counted and logged, and `maxFailures` consecutive errors fail the service.

import { isAbortLike, toError } from '../core/errors.js';
import { TooManyFailuresError, TryLater } from './errors.js';
import type { OptionSpecs } from './options.js';
import type { Service } from './service.js';
import { Task } from './task.js';

export interface ExecuteContext {
  /** Aborted when the service stops. */
  signal: AbortSignal;
  service: Service;
  /** For a CronTask: the time this run was scheduled for. */
  scheduledAt?: Date;
}

/** Longest single timer; longer waits are taken in steps (Node timers overflow past 2^31-1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

export abstract class RepeatingTask extends Task {
  static override options: OptionSpecs = {
    maxFailures: { type: 'integer', default: 0, min: 0, help: 'fail the service after this many failed runs in a row (0: never)' },
  };

  override readonly counters: Record<string, number> = {
    completed: 0,
    failed: 0,
    tryLater: 0,
    consecutiveFailures: 0,
    triggered: 0,
    running: 0,
  };
  #sleepers: Array<() => void> = [];
  #triggered = false;
  #triggerWaiters: Array<() => void> = [];

  /** The work of one run. Throw TryLater to retry after its delay instead of the usual wait. */
  abstract execute(ctx: ExecuteContext): Promise<void>;

  /** When the first run is due (clock ms). */
  protected abstract firstDueAt(now: number): number;
  /** When the run after one that went from `startedAt` to `endedAt` is due (clock ms). */
  protected abstract nextDueAt(startedAt: number, endedAt: number): number;
  /** The scheduled time passed to execute, if the schedule has one. */
  protected scheduledAt(_dueAt: number): Date | undefined {
    return undefined;
  }

  /** Runs `execute` now instead of at its due time; resolves when that run ended (whatever its outcome). */
  trigger(): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    this.counters.triggered!++;
    return new Promise<void>((resolve) => {
      this.#triggerWaiters.push(resolve);
      this.#triggered = true;
      this.#sleepers.shift()?.();
    });
  }

  override warnings(): string[] {
    const n = this.counters.consecutiveFailures!;
    return n > 0 ? [`last ${n} run${n === 1 ? '' : 's'} failed${this.lastError ? `: ${this.lastError.message}` : ''}`] : [];
  }

  override async run(signal: AbortSignal): Promise<void> {
    let dueAt = this.firstDueAt(this.clock.now());
    try {
      while (!signal.aborted) {
        await this.#waitUntil(dueAt, signal);
        if (signal.aborted) break;
        dueAt = await this.#runOnce(signal, dueAt);
      }
    } finally {
      if (signal.aborted) this.#releaseTriggerWaiters();
    }
  }

  async #runOnce(signal: AbortSignal, dueAt: number): Promise<number> {
    const waiters = this.#triggerWaiters;
    this.#triggerWaiters = [];
    this.#triggered = false;
    const startedAt = this.clock.now();
    const scheduledAt = this.scheduledAt(dueAt);
    let retryAfter: number | undefined;
    this.counters.running!++;
    try {
      await this.execute(scheduledAt === undefined ? { signal, service: this.service } : { signal, service: this.service, scheduledAt });
      this.counters.completed!++;
      this.counters.consecutiveFailures = 0;
    } catch (err) {
      if (signal.aborted && isAbortLike(err, signal)) return dueAt;
      if (err instanceof TryLater) {
        this.counters.tryLater!++;
        retryAfter = err.afterMs;
        this.logger.debug({ task: this.name, afterMs: err.afterMs, reason: err.message }, 'run asked to try later');
      } else {
        this.counters.failed!++;
        const n = ++this.counters.consecutiveFailures!;
        const error = toError(err);
        this.noteError(error);
        this.logger.warn({ task: this.name, err: error, consecutiveFailures: n }, `task ${this.name} run failed`);
        const max = (this.options.maxFailures as number | undefined) ?? 0;
        if (max > 0 && n >= max) {
          throw new TooManyFailuresError(`task ${this.name} failed ${n} times in a row (maxFailures ${max}): ${error.message}`, {
            cause: err,
          });
        }
      }
    } finally {
      this.counters.running!--;
      const endedAt = this.clock.now();
      this.timing.record(endedAt - startedAt);
      for (const w of waiters) w();
    }
    const endedAt = this.clock.now();
    return retryAfter !== undefined ? endedAt + retryAfter : this.nextDueAt(startedAt, endedAt);
  }

  /** Sleeps on the service clock until `dueAt`, a trigger, or the signal, whichever is first. */
  async #waitUntil(dueAt: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.#triggered) {
      const ms = dueAt - this.clock.now();
      if (ms <= 0) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          timer.clear();
          signal.removeEventListener('abort', wake);
          const i = this.#sleepers.indexOf(wake);
          if (i !== -1) this.#sleepers.splice(i, 1);
          resolve();
        };
        const timer = this.clock.setTimeout(wake, Math.min(ms, MAX_TIMER_MS));
        signal.addEventListener('abort', wake, { once: true });
        this.#sleepers.push(wake);
      });
    }
  }

  #releaseTriggerWaiters(): void {
    const waiters = this.#triggerWaiters;
    this.#triggerWaiters = [];
    for (const w of waiters) w();
  }
}

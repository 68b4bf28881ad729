// cronRestart: calls `onDue` at each time a croner expression names. croner only computes the
// next time; waiting goes through the fleet's Clock, so a TestClock drives it. Each next time
// is computed from now after a firing, so ticks missed while a restart ran are skipped, never
// replayed. Long waits are cut into steps of at most an hour (a timer cannot wait past 2^31 ms,
// and the wall clock may jump), each step computing the next time again.

import { Cron } from 'croner';
import type { Clock, TimerHandle } from '../core/clock.js';

const MAX_STEP_MS = 3_600_000;

export class CronRestart {
  readonly #cron: Cron;
  readonly #clock: Clock;
  readonly #onDue: () => void;
  #timer: TimerHandle | undefined;
  #stopped = false;

  /** Throws croner's error for an invalid expression (validation has refused those already). */
  constructor(expression: string, clock: Clock, onDue: () => void) {
    this.#cron = new Cron(expression, { paused: true });
    this.#clock = clock;
    this.#onDue = onDue;
    this.#arm();
  }

  /** The next due time (ms since the epoch), or undefined when the schedule has none left. */
  next(): number | undefined {
    return this.#cron.nextRun(new Date(this.#clock.now()))?.getTime();
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.clear();
    this.#cron.stop();
  }

  #arm(): void {
    if (this.#stopped) return;
    const due = this.next();
    if (due === undefined) return;
    const wait = due - this.#clock.now();
    if (wait > MAX_STEP_MS) {
      this.#timer = this.#clock.setTimeout(() => this.#arm(), MAX_STEP_MS);
      return;
    }
    this.#timer = this.#clock.setTimeout(() => {
      if (this.#stopped) return;
      // Early by a little (a coarse timer): wait for the due time itself, or it fires twice.
      if (this.#clock.now() < due) return this.#rearmAt(due);
      this.#onDue();
      this.#arm();
    }, wait);
  }

  #rearmAt(due: number): void {
    this.#timer = this.#clock.setTimeout(
      () => {
        if (this.#stopped) return;
        this.#onDue();
        this.#arm();
      },
      Math.max(1, due - this.#clock.now()),
    );
  }
}

// PeriodicTask: sparts' periodic task. `execute` runs every `interval` ms measured from the
// start of the previous run (so a 3 s run with a 10 s interval starts at 0, 10, 20 s); a run
// longer than the interval is counted as slow and the next starts at once, never overlapping.

import type { OptionSpecs } from './options.js';
import { RepeatingTask } from './repeating.js';

export abstract class PeriodicTask extends RepeatingTask {
  /** Default of the `interval` option (ms). */
  static interval = 60_000;

  static override optionSpecs(): OptionSpecs {
    const specs = super.optionSpecs();
    return {
      interval: { type: 'duration', default: this.interval, min: 1, help: 'time between the starts of two runs' },
      ...specs,
    };
  }

  override readonly counters: Record<string, number> = {
    completed: 0,
    failed: 0,
    tryLater: 0,
    slow: 0,
    consecutiveFailures: 0,
    triggered: 0,
    running: 0,
  };

  /** The interval in effect (ms): the `interval` option, defaulting to `static interval`. */
  get interval(): number {
    return this.options.interval as number;
  }

  protected firstDueAt(now: number): number {
    return now;
  }

  protected nextDueAt(startedAt: number, endedAt: number): number {
    if (endedAt - startedAt > this.interval) this.counters.slow!++;
    return Math.max(endedAt, startedAt + this.interval);
  }
}

// CronTask: `execute` at the times a cron expression names, in a given time zone. croner only
// computes the next time; waiting goes through the service Clock, so tests drive it with
// TestClock. Each next time is computed from now after a run: runs missed while the process
// was stopped or a run overran are skipped, never replayed.

import { Cron } from 'croner';
import { OptionError } from './errors.js';
import { flagName, kebab, type OptionSpecs } from './options.js';
import { RepeatingTask } from './repeating.js';

export abstract class CronTask extends RepeatingTask {
  /** Default of the `schedule` option: a cron expression (5 fields, or 6 with seconds first). */
  static schedule = '';
  /** Default of the `timezone` option, an IANA name such as "Europe/Paris"; default the host's. */
  static timezone: string | undefined = undefined;

  static override optionSpecs(): OptionSpecs {
    const specs = super.optionSpecs();
    const out: OptionSpecs = {
      schedule: { type: 'string', help: 'cron expression', required: true },
      timezone: { type: 'string', help: 'IANA time zone of the schedule (default: the host time zone)' },
      ...specs,
    };
    if (this.schedule !== '') out.schedule = { ...out.schedule!, default: this.schedule };
    if (this.timezone !== undefined) out.timezone = { ...out.timezone!, default: this.timezone };
    return out;
  }

  #cron: Cron | undefined;

  /** The schedule in effect. */
  get schedule(): string {
    return this.options.schedule as string;
  }

  get timezone(): string | undefined {
    return this.options.timezone as string | undefined;
  }

  /** The next run time after `from` (default now), or null if the schedule has none. */
  nextRun(from: number = this.clock.now()): Date | null {
    return this.#schedule().nextRun(new Date(from));
  }

  protected firstDueAt(now: number): number {
    return this.#dueAfter(now);
  }

  protected nextDueAt(_startedAt: number, endedAt: number): number {
    return this.#dueAfter(endedAt);
  }

  protected override scheduledAt(dueAt: number): Date | undefined {
    return Number.isFinite(dueAt) ? new Date(dueAt) : undefined;
  }

  #dueAfter(now: number): number {
    return this.nextRun(now)?.getTime() ?? Infinity;
  }

  #schedule(): Cron {
    if (this.#cron === undefined) {
      try {
        const opts = this.timezone === undefined || this.timezone === '' ? { paused: true } : { paused: true, timezone: this.timezone };
        this.#cron = new Cron(this.schedule, opts);
      } catch (err) {
        const prefix = (this.constructor as typeof CronTask).prefix ?? kebab(this.name);
        throw new OptionError(
          `invalid cron schedule "${this.schedule}" (${flagName(prefix, 'schedule')} / timezone ${this.timezone ?? 'host'}): ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    return this.#cron;
  }
}

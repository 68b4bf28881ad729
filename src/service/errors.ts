// The errors bosun/service raises or lets tasks raise. Like every bosun error each has a
// stable `code`; SkipTask and TryLater are signals a task throws on purpose, not failures.

import { BosunError } from '../core/errors.js';

/** Thrown from a task's `init()`: drop this task from the service (logged, not an error). */
export class SkipTask extends BosunError {
  constructor(message = 'task skipped', options?: { cause?: unknown }) {
    super('ERR_SKIP_TASK', message, options);
  }
}

/**
 * Thrown from `execute()`: the work could not be done now; try again after `afterMs`.
 * A PeriodicTask retries after `afterMs` instead of its interval; a QueueTask re-queues the
 * item, waiting `afterMs × 2^(n-1)` (capped at 60 s) before its n-th retry.
 */
export class TryLater extends BosunError {
  readonly afterMs: number;
  constructor(afterMs: number, message = `try again in ${afterMs} ms`, options?: { cause?: unknown }) {
    super('ERR_TRY_LATER', message, options);
    if (!(afterMs >= 0)) throw new RangeError(`TryLater: afterMs must be >= 0, got ${afterMs}`);
    this.afterMs = afterMs;
  }
}

/** A flag or environment variable has a value that is not valid; the message names it. */
export class OptionError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_OPTION', message, options);
  }
}

/** One or more tasks failed in `init()`; `errors` holds each failure by task name. */
export class TaskInitError extends BosunError {
  readonly errors: ReadonlyMap<string, Error>;
  constructor(errors: Map<string, Error>) {
    const names = [...errors.keys()];
    const details = [...errors].map(([name, err]) => `${name}: ${err.message}`).join('; ');
    super('ERR_TASK_INIT', `${names.length} task${names.length === 1 ? '' : 's'} failed to start: ${names.join(', ')} (${details})`, {
      cause: errors.values().next().value,
    });
    this.errors = errors;
  }
}

// One class per code for every layer (core's): a task cycle and an engine cycle are both a
// DependencyCycleError, and a full QueueTask and a full ProcessPool both a QueueFullError.
export { DependencyCycleError, QueueFullError } from '../core/errors.js';

/** A PeriodicTask (or CronTask) failed `maxFailures` times in a row; `cause` is the last error. */
export class TooManyFailuresError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TOO_MANY_FAILURES', message, options);
  }
}

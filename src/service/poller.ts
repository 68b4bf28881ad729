// PollerTask: sparts' poller. `fetch()` runs every interval; `onValueChanged(old, new)` runs
// only when the value differs (deep equality by default) — the first value is a change from
// undefined. Errors and TryLater behave as in PeriodicTask.

import { isDeepStrictEqual } from 'node:util';
import { PeriodicTask } from './periodic.js';
import type { ExecuteContext } from './repeating.js';

export abstract class PollerTask<T = unknown> extends PeriodicTask {
  /** The last value fetched, undefined before the first fetch. */
  value: T | undefined;
  #hasValue = false;

  override readonly counters: Record<string, number> = {
    completed: 0,
    failed: 0,
    tryLater: 0,
    slow: 0,
    changes: 0,
    consecutiveFailures: 0,
    triggered: 0,
    running: 0,
  };

  /** Reads the current value. */
  abstract fetch(ctx: ExecuteContext): Promise<T>;

  /** Called after `value` changed; the new value is already in `this.value`. */
  onValueChanged(_old: T | undefined, _value: T): Promise<void> | void {}

  /** Whether two fetched values are the same. Default: deep strict equality. */
  equals(a: T, b: T): boolean {
    return isDeepStrictEqual(a, b);
  }

  async execute(ctx: ExecuteContext): Promise<void> {
    const next = await this.fetch(ctx);
    if (this.#hasValue && this.equals(this.value as T, next)) return;
    const old = this.value;
    this.value = next;
    this.#hasValue = true;
    this.counters.changes!++;
    await this.onValueChanged(old, next);
  }
}

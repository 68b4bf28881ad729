// A wake-up for a loop that otherwise sleeps on the clock: ring() ends the current wait, and a
// ring while nobody waits makes the next wait return at once, so no wake-up is ever lost.

import type { Clock } from '../core/index.js';

export type WaitEnd = 'rung' | 'timeout' | 'aborted';

export class Bell {
  #rung = false;
  #wake: (() => void) | undefined;
  ring(): void {
    this.#rung = true;
    this.#wake?.();
  }
  /** Forgets a ring nobody waited for yet: the caller is about to look anyway. */
  clear(): void {
    this.#rung = false;
  }
  /** Resolves on a ring (or one already rung), after `ms` on `clock`, or when `signal` aborts; says which. */
  wait(clock: Clock, ms: number, signal: AbortSignal): Promise<WaitEnd> {
    if (signal.aborted) return Promise.resolve('aborted');
    if (this.#rung) {
      this.#rung = false;
      return Promise.resolve('rung');
    }
    return new Promise<WaitEnd>((resolve) => {
      const finish = (how: WaitEnd) => {
        timer.clear();
        signal.removeEventListener('abort', onAbort);
        this.#wake = undefined;
        this.#rung = false;
        resolve(how);
      };
      const onAbort = () => finish('aborted');
      const timer = clock.setTimeout(() => finish('timeout'), ms);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#wake = () => finish('rung');
    });
  }
}

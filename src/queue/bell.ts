// A wake-up for a loop that otherwise sleeps on the clock: ring() ends the current wait, and a
// ring while nobody waits makes the next wait return at once, so no wake-up is ever lost.

import type { Clock } from '../core/index.js';

export class Bell {
  #rung = false;
  #wake: (() => void) | undefined;
  ring(): void {
    this.#rung = true;
    this.#wake?.();
  }
  /** Resolves on a ring (or one already rung), after `ms` on `clock`, or when `signal` aborts. */
  wait(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
    if (this.#rung || signal.aborted) {
      this.#rung = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const finish = () => {
        timer.clear();
        signal.removeEventListener('abort', finish);
        this.#wake = undefined;
        this.#rung = false;
        resolve();
      };
      const timer = clock.setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      this.#wake = finish;
    });
  }
}

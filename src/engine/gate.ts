// A Gate is a one-way latch: locked until someone calls unlock(), then unlocked for good.
// Share one between manifolds (through `gateManifold`) so workers can wait for a one-time
// event, such as "upgrade steps done", that outlives any worker's restarts.

import { noopWorker } from '../core/worker.js';
import { AbortedError } from './errors.js';
import type { Manifold } from './manifold.js';

export class Gate {
  #unlocked = false;
  #open!: () => void;
  readonly #opened = new Promise<void>((resolve) => (this.#open = resolve));

  /** Unlocks the gate and releases everyone waiting on it. Idempotent. */
  unlock(): void {
    this.#unlocked = true;
    this.#open();
  }

  isUnlocked(): boolean {
    return this.#unlocked;
  }

  /** Resolves once the gate is unlocked (at once if it already is); rejects with AbortedError if `signal` aborts first. */
  unlocked(signal?: AbortSignal): Promise<void> {
    if (this.#unlocked || signal === undefined) return this.#opened;
    if (signal.aborted) return Promise.reject(new AbortedError('gave up waiting for the gate', { cause: signal.reason }));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new AbortedError('gave up waiting for the gate', { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      void this.#opened.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

/**
 * A manifold whose output is `gate` (a new one if not given). The gate lives outside the
 * manifold, so restarting the manifold never locks it again. Dependents read it with
 * `ctx.get<Gate>(name)`; one of them unlocks it, the others wait on `unlocked()`.
 */
export function gateManifold(gate: Gate = new Gate()): Manifold {
  return {
    start: async () => noopWorker(),
    output: () => gate,
  };
}

// A Fortress lets guests do short pieces of work ("visits") only while a guard allows it, and
// lets the guard stop new visits and wait for those in progress: e.g. pause every API call while
// an upgrade runs. It starts locked; visits wait while locked (after lockdown too) and run once
// unlocked, failing with AbortedError only if their own signal aborts or the fortress is killed
// (juju's fortress). A Fortress is a Worker.

import { DeadError } from '../core/errors.js';
import type { Worker } from '../core/worker.js';
import { AbortedError } from './errors.js';
import type { Manifold } from './manifold.js';

export interface Guard {
  /** Lets visits run, releasing every guest waiting. Throws DeadError once the fortress is killed. */
  unlock(): void;
  /**
   * Locks the fortress: new visits wait until the next unlock(). Resolves once the visits in
   * progress have ended. Rejects with AbortedError if `signal` aborts first; the fortress stays locked.
   */
  lockdown(signal?: AbortSignal): Promise<void>;
}

export interface Guest {
  /**
   * Runs `fn` once the fortress is unlocked (waiting while it is locked or locked down) and returns
   * its result; lockdown waits for it to end. Rejects with AbortedError if `signal` aborts while
   * waiting or if the fortress is killed.
   */
  visit<T>(fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T>;
}

interface Waiter {
  admit(): void;
  refuse(err: AbortedError): void;
}

export class Fortress implements Worker {
  readonly guard: Guard;
  readonly guest: Guest;
  #unlocked = false;
  #dead = false;
  #visits = 0;
  readonly #waiters = new Set<Waiter>();
  /** Called when the last visit in progress ends. */
  readonly #idle = new Set<() => void>();
  #finish!: () => void;
  readonly #done = new Promise<void>((resolve) => (this.#finish = resolve));

  constructor() {
    this.guard = { unlock: () => this.#unlock(), lockdown: (signal) => this.#lockdown(signal) };
    this.guest = { visit: (fn, signal) => this.#visit(fn, signal) };
  }

  /** Locks the fortress for good: waiting visits fail; wait() resolves once visits in progress end. */
  kill(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#unlocked = false;
    const refused = [...this.#waiters];
    this.#waiters.clear();
    const err = new AbortedError('fortress stopped');
    for (const w of refused) w.refuse(err);
    this.#whenIdle(() => this.#finish());
  }

  wait(): Promise<void> {
    return this.#done;
  }

  #unlock(): void {
    if (this.#dead) throw new DeadError('fortress is stopped: cannot unlock');
    this.#unlocked = true;
    const admitted = [...this.#waiters];
    this.#waiters.clear();
    for (const w of admitted) w.admit();
  }

  #lockdown(signal?: AbortSignal): Promise<void> {
    this.#unlocked = false;
    if (signal?.aborted) return Promise.reject(new AbortedError('lockdown abandoned', { cause: signal.reason }));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#idle.delete(done);
        reject(new AbortedError('lockdown abandoned before visits ended', { cause: signal!.reason }));
      };
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#whenIdle(done);
    });
  }

  #whenIdle(fn: () => void): void {
    if (this.#visits === 0) fn();
    else this.#idle.add(fn);
  }

  #visit<T>(fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new AbortedError('visit abandoned', { cause: signal.reason }));
    if (this.#dead) return Promise.reject(new AbortedError('fortress stopped'));
    if (this.#unlocked) return this.#run(fn);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(waiter);
        reject(new AbortedError('visit abandoned while the fortress was locked', { cause: signal!.reason }));
      };
      const waiter: Waiter = {
        // Counted as in progress synchronously, so a lockdown right after unlock waits for it.
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#run(fn).then(resolve, reject);
        },
        refuse: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#visits++;
    try {
      return await fn();
    } finally {
      if (--this.#visits === 0) {
        const waiting = [...this.#idle];
        this.#idle.clear();
        for (const f of waiting) f();
      }
    }
  }
}

/**
 * A manifold whose worker is a fresh, locked Fortress and whose output is that Fortress. One
 * dependent takes `.guard` and unlocks it when visits are safe; others take `.guest` and visit.
 * Restarting the manifold kills the old fortress, failing its waiting visits.
 */
export function fortressManifold(): Manifold {
  return {
    start: async () => new Fortress(),
    output: (worker) => worker,
  };
}

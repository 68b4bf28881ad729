// The one idea: everything that runs is a Worker with kill() and wait().
// A worker runs from the moment it is made; kill() asks it to stop through an
// AbortSignal, and an abort surfaced after a kill counts as a clean stop.

import { KilledError, isAbortLike } from './errors.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { jittered } from './backoff.js';

export interface Worker {
  /** Ask the worker to stop. Idempotent; returns at once. */
  kill(reason?: unknown): void;
  /** Resolves when the worker stopped cleanly (a kill is clean); rejects with the error that stopped it. */
  wait(): Promise<void>;
  /**
   * Optional: `'tree'` for a Worker that supervises workers of its own (Supervisor, Runner,
   * Engine and Service say so), so that a parent supervisor waits for it to stop as long as
   * it takes (default `shutdownMs` `'infinity'`) instead of abandoning it while its own
   * workers still run. Absent means `'worker'`. A `ChildSpec.kind` wins over it.
   */
  readonly kind?: 'worker' | 'tree';
  /**
   * Optional: resolves once the Worker has started (is ready), rejects with the reason it
   * failed to (OTP's start_link returning `{error, Reason}`). A supervisor that starts the
   * Worker as a child waits for it before it starts the next sibling and counts a rejection
   * as a failed start. Absent means the Worker has started when it is returned.
   */
  started?(): Promise<void>;
}

/** A promise that never reports an unhandled rejection, however it is used. */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

class FunctionWorker implements Worker {
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;

  constructor(fn: (signal: AbortSignal) => Promise<void> | void) {
    const signal = this.#abort.signal;
    this.#done = quiet(
      (async () => {
        try {
          await fn(signal);
        } catch (err) {
          if (signal.aborted && isAbortLike(err, signal)) return;
          throw err;
        }
      })(),
    );
  }

  kill(reason?: unknown): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason ?? new KilledError());
  }

  wait(): Promise<void> {
    return this.#done;
  }
}

/** Runs `fn` now as a Worker: its result is the worker's result; kill() aborts its signal. */
export function startWorker(fn: (signal: AbortSignal) => Promise<void> | void): Worker {
  return new FunctionWorker(fn);
}

export interface PeriodicOptions {
  clock?: Clock;
  /** Fraction of the period to vary each wait by, e.g. 0.1 for ±10%. Default 0. */
  jitter?: number;
}

/** Calls `fn(signal)` at once and then every `periodMs` after the previous call ended. An error stops it. */
export function periodicWorker(fn: (signal: AbortSignal) => Promise<void> | void, periodMs: number, options: PeriodicOptions = {}): Worker {
  if (!(periodMs > 0)) throw new RangeError(`periodicWorker: periodMs must be > 0, got ${periodMs}`);
  const clock = options.clock ?? systemClock;
  const jitter = options.jitter ?? 0;
  return startWorker(async (signal) => {
    while (!signal.aborted) {
      await fn(signal);
      await clock.sleep(jittered(periodMs, jitter), signal);
    }
  });
}

const resolved = Promise.resolve();

/** A worker that has already stopped cleanly. */
export function finishedWorker(): Worker {
  return { kill() {}, wait: () => resolved };
}

/** A worker that does nothing until it is killed. */
export function noopWorker(): Worker {
  return startWorker(
    (signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      }),
  );
}

/** Kill, then wait. */
export function stopWorker(worker: Worker, reason?: unknown): Promise<void> {
  worker.kill(reason);
  return worker.wait();
}

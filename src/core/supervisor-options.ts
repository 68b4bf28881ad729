// The options a Supervisor takes and the events it emits, kept apart from the machinery so
// the public contract reads in one place.

import type { BackoffOptions } from './backoff.js';
import type { AutoShutdown, ChildSpec, Strategy, ShutdownMs } from './child-spec.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export interface SupervisorOptions {
  /** Default `'one_for_one'`. */
  strategy?: Strategy;
  /** Most restarts allowed within `periodMs` before giving up. Default 1 (OTP's). `Infinity`: never give up. */
  intensity?: number;
  /** The intensity window, in ms. Default 5000 (OTP's 5 s). */
  periodMs?: number;
  /** Delay before each restart. Defaults: initialMs 100, factor 2, maxMs 30000, jitter 0.1, resetAfterMs 30000. */
  backoff?: BackoffOptions;
  /** A child error for which this returns true stops the supervisor with that error. Default: none. */
  isFatal?: (err: Error) => boolean;
  /** Default `'never'`; see `ChildSpec.significant`. */
  autoShutdown?: AutoShutdown;
  /** Every timer (backoff, shutdown) goes through it. Default `systemClock`. */
  clock?: Clock;
  /** Started in order when the supervisor is made. */
  children?: ChildSpec[];
  /** Used in logs, events and error messages. Default `'supervisor'`. */
  name?: string;
  /** pino-shaped structured logger. Default: silent. */
  logger?: Logger;
  /** Source of randomness for backoff jitter, in [0, 1). Default `Math.random`; tests pass a seeded one. */
  random?: () => number;
}

/** Events a Supervisor emits; `supervisor` is its name. */
export interface SupervisorEvents {
  /** A child has started: its `start` returned a Worker, or its pending start (a promise, `started()`) settled. */
  childStarted: { supervisor: string; id: string; restarts: number };
  /** A child run ended. `error` is undefined for a clean stop; `killed` says the supervisor stopped it. */
  childExited: { supervisor: string; id: string; error: Error | undefined; killed: boolean };
  /** A restart was decided and will happen after `delayMs`. */
  childRestarting: { supervisor: string; id: string; delayMs: number; restarts: number; error: Error | undefined };
  /** A child did not stop within its `shutdownMs` and was left behind. */
  childAbandoned: { supervisor: string; id: string; shutdownMs: ShutdownMs };
  /**
   * A child passed its own restart limit (ChildSpec.intensity), or a transient child tree gave up
   * (its RestartIntensityError is `error`): it is not restarted, its siblings keep running.
   */
  childFailed: { supervisor: string; id: string; error: Error };
  /** A child's spec was removed (transient that stopped cleanly, temporary, `deleteChild`). */
  childRemoved: { supervisor: string; id: string };
  /** The supervisor is dying with an error: restart intensity exceeded, a fatal error, or a failed start-up. */
  gaveUp: { supervisor: string; error: Error };
}

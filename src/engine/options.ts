// The Engine's options: every default in one place, each with the reason it was chosen
// (juju's values for comparison), and the checks that refuse values that make no sense.

import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';

export interface EngineOptions {
  /** Errors that stop the whole engine rather than just restart their manifold. Default: none. */
  isFatal?: (err: Error) => boolean;
  /** Of two fatal errors, the one `wait()` should reject with. Default: the first seen. */
  worstError?: (a: Error, b: Error) => Error;
  /**
   * Wait before the first restart after an error. Default 3000 ms (juju's): long enough not to
   * hammer a server that just refused us, short enough that a blip heals before anyone looks.
   */
  errorDelayMs?: number;
  /**
   * Wait before restarting a manifold stopped because an input changed (and after `BounceError`).
   * Default 10 ms (juju's): a bounce is expected, not a failure, so restart almost at once, but
   * let a burst of input changes settle into one restart instead of several.
   */
  bounceDelayMs?: number;
  /**
   * Each further consecutive error multiplies the wait by this. Default 2, as bosun's Supervisor:
   * from 3 s it reaches the one-minute cap after six failures (3, 6, 12, 24, 48, 60 s), where
   * juju's 1.2 takes seventeen; a dependency that is down for minutes is asked less often sooner.
   */
  backoffFactor?: number;
  /** A worker that ran at least this long before failing starts its backoff over. Default 60000 ms (juju's). */
  backoffResetMs?: number;
  /**
   * Cap on any restart delay. Default 60000 ms (juju uses 2 min): an agent whose dependency came
   * back should notice within a minute, and one request a minute costs a down server nothing.
   */
  maxDelayMs?: number;
  /** Every restart delay is moved by up to ±this fraction, so workers that failed together spread out. Default 0.1; 0 turns it off. */
  fuzz?: number;
  clock?: Clock;
  logger?: Logger;
}

export type ResolvedEngineOptions = Required<EngineOptions>;

/** Fills in the defaults above and throws RangeError for a negative delay, a factor below 1 or a fuzz outside [0, 1). */
export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  const backoffFactor = options.backoffFactor ?? 2;
  if (!(backoffFactor >= 1) || !Number.isFinite(backoffFactor))
    throw new RangeError(`Engine: backoffFactor must be a finite number >= 1, got ${backoffFactor}`);
  const fuzz = options.fuzz ?? 0.1;
  if (!(fuzz >= 0 && fuzz < 1)) throw new RangeError(`Engine: fuzz must be in [0, 1), got ${fuzz}`);
  return {
    isFatal: options.isFatal ?? (() => false),
    worstError: options.worstError ?? ((a) => a),
    errorDelayMs: nonNegative('errorDelayMs', options.errorDelayMs ?? 3000),
    bounceDelayMs: nonNegative('bounceDelayMs', options.bounceDelayMs ?? 10),
    backoffFactor,
    backoffResetMs: nonNegative('backoffResetMs', options.backoffResetMs ?? 60_000),
    maxDelayMs: nonNegative('maxDelayMs', options.maxDelayMs ?? 60_000),
    fuzz,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  };
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`Engine: ${name} must be a finite number >= 0, got ${value}`);
  return value;
}

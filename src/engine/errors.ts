// The errors a manifold's start or worker returns to steer the engine (MissingError,
// BounceError, UninstallError), and the errors the engine, Gate and Fortress raise.
// Each has a stable `code`; match on it or on the class, never on the message.

import { BosunError } from '../core/errors.js';

/**
 * An input this manifold needs is not running (or not ready). Thrown by `ctx.get`, or by a
 * start that found an input unusable: the engine does not retry until one of the manifold's
 * inputs changes, so a missing input never makes a start loop spin.
 */
export class MissingError extends BosunError {
  constructor(message = 'dependency not available', options?: { cause?: unknown }) {
    super('ERR_MISSING', message, options);
  }
}

/**
 * Return (or throw) this to have the manifold restarted after `bounceDelayMs`, with no error
 * backoff: for a worker that noticed its configuration changed and wants a fresh start.
 */
export class BounceError extends BosunError {
  constructor(message = 'restart requested', options?: { cause?: unknown }) {
    super('ERR_BOUNCE', message, options);
  }
}

/** Return (or throw) this to have the engine remove the manifold: it will not run again. */
export class UninstallError extends BosunError {
  constructor(message = 'uninstall requested', options?: { cause?: unknown }) {
    super('ERR_UNINSTALL', message, options);
  }
}

/** `ctx.get(name)` for a name the manifold did not list in `inputs`. A programming error. */
export class UndeclaredInputError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNDECLARED_INPUT', message, options);
  }
}

/** `ctx.get(name)` for an input whose manifold has no `output`: it exposes nothing to read. */
export class NoOutputError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NO_OUTPUT', message, options);
  }
}

/**
 * `install` refused a manifold whose inputs lead back to itself: core's DependencyCycleError
 * (one class for every layer), whose `cycle` starts and ends with the manifold installed.
 */
export { CycleError } from '../core/errors.js';

/** A Fortress visit or lockdown was cut short: by its signal, by lockdown, or by the fortress stopping. */
export class AbortedError extends BosunError {
  constructor(message = 'aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

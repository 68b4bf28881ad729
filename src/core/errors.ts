// Every bosun error is a class with a stable string `code` and keeps its `cause`,
// so callers match on `code` (or `instanceof`) rather than on message text.

export class BosunError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The reason a worker is killed when `kill()` is given none. Stopping for it is clean. */
export class KilledError extends BosunError {
  constructor(message = 'worker killed', options?: { cause?: unknown }) {
    super('ERR_KILLED', message, options);
  }
}

/** The thing asked for has already stopped and accepts no more work. */
export class DeadError extends BosunError {
  constructor(message = 'already stopped', options?: { cause?: unknown }) {
    super('ERR_DEAD', message, options);
  }
}

export class AlreadyExistsError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ALREADY_EXISTS', message, options);
  }
}

export class NotFoundError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_FOUND', message, options);
  }
}

/** A supervisor saw more restarts than its intensity allows; `cause` is the last child error. */
export class RestartIntensityError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RESTART_INTENSITY', message, options);
  }
}

export class TimeoutError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TIMEOUT', message, options);
  }
}

/**
 * Things that need each other in a circle: installing such a manifold (the engine's
 * `CycleError` is this class) or such service tasks. `cycle` names every member in order,
 * starting and ending with the same name.
 */
export class DependencyCycleError extends BosunError {
  readonly cycle: readonly string[];
  constructor(cycle: readonly string[], message = `dependency cycle: ${cycle.join(' -> ')}`, options?: { cause?: unknown }) {
    super('ERR_DEPENDENCY_CYCLE', message, options);
    this.cycle = cycle;
  }
}

/** The engine's name for DependencyCycleError: one class, so `instanceof` works across layers. */
export { DependencyCycleError as CycleError };

/** A bounded queue (a ProcessPool's, a QueueTask's) is full and the caller asked not to wait. */
export class QueueFullError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_QUEUE_FULL', message, options);
  }
}

/**
 * True when `err` is what work surfaces because it was asked to stop: an `AbortError`,
 * a `KilledError`, or the signal's own reason. Such an exit after a kill is clean.
 */
export function isAbortLike(err: unknown, signal?: AbortSignal): boolean {
  if (signal !== undefined && signal.aborted && err === signal.reason) return true;
  if (err instanceof KilledError) return true;
  return err instanceof Error && err.name === 'AbortError';
}

/** Turns anything thrown into an Error, keeping Errors as they are. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : `non-error thrown: ${safeString(value)}`, { cause: value });
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// Restart delays for a supervised child: they grow by `factor` after each restart up to
// `maxMs`, are spread by `jitter` so crashed siblings do not restart in lockstep, and fall
// back to `initialMs` once the child has run steadily for `resetAfterMs`.

/** How long a supervisor waits before restarting a crashed child. */
export interface BackoffOptions {
  /**
   * Delay before the first restart, in ms. Default 100. `0` restarts at once (and stays 0):
   * with an unbounded intensity, a child that always fails at once then keeps the event loop
   * busy, as any restart loop without a delay would.
   */
  initialMs?: number;
  /** Each restart multiplies the next delay by this. Default 2. */
  factor?: number;
  /** Upper bound on the delay before jitter, in ms. Default 30000. */
  maxMs?: number;
  /** Random spread as a fraction of the delay: 0.1 means ±10%. Default 0.1; 0 turns it off. */
  jitter?: number;
  /** A child that ran at least this long before it crashed restarts from `initialMs`. Default 30000. */
  resetAfterMs?: number;
}

export type ResolvedBackoff = Required<BackoffOptions>;

export const defaultBackoff: ResolvedBackoff = Object.freeze({
  initialMs: 100,
  factor: 2,
  maxMs: 30_000,
  jitter: 0.1,
  resetAfterMs: 30_000,
});

/** Fills in defaults and refuses values that would make the delays meaningless. */
export function resolveBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  const b = { ...defaultBackoff, ...dropUndefined(options ?? {}) };
  const bad = (field: string, value: number, want: string) => new RangeError(`backoff.${field} must be ${want}, got ${value}`);
  if (!(b.initialMs >= 0) || !Number.isFinite(b.initialMs)) throw bad('initialMs', b.initialMs, 'a finite number >= 0');
  if (!(b.factor >= 1) || !Number.isFinite(b.factor)) throw bad('factor', b.factor, 'a finite number >= 1');
  if (!(b.maxMs >= b.initialMs)) throw bad('maxMs', b.maxMs, `>= initialMs (${b.initialMs})`);
  if (!(b.jitter >= 0 && b.jitter <= 1)) throw bad('jitter', b.jitter, 'between 0 and 1');
  if (!(b.resetAfterMs >= 0)) throw bad('resetAfterMs', b.resetAfterMs, '>= 0');
  return b;
}

/**
 * The one backoff formula: the delay before retry `n` (1 for the first after a failure) is
 * `initialMs × factor^(n-1)`, capped at `maxMs`, then moved by ±`jitter` (see `jittered`).
 * The supervisor, the engine (its `fuzz` is the jitter) and QueueTask's TryLater use it, and
 * the queue's retries are the same arithmetic.
 */
export function backoffDelay(b: Omit<ResolvedBackoff, 'resetAfterMs'>, n: number, random: () => number = Math.random): number {
  return jittered(exponentialDelay(n, b.initialMs, b.factor, b.maxMs), b.jitter, random);
}

/**
 * One more failure in a row, unless the work had run for `resetAfterMs` before it failed:
 * then it starts over at 1. Returns the new count, the `n` of `backoffDelay`.
 */
export function nextFailure(b: Pick<ResolvedBackoff, 'resetAfterMs'>, failures: number, ranMs: number): number {
  return ranMs >= b.resetAfterMs ? 1 : failures + 1;
}

/** `initialMs × factor^(n-1)`, capped at `maxMs`; `n` counts from 1 (the first retry). */
export function exponentialDelay(n: number, initialMs: number, factor: number, maxMs: number): number {
  // 0 stays 0 however long the run of failures: factor^n reaches Infinity, and 0 × Infinity is NaN.
  if (initialMs === 0) return 0;
  return Math.min(initialMs * factor ** Math.max(0, n - 1), maxMs);
}

/**
 * `ms` moved by up to ±`fraction` of itself (0.1 is ±10%), so work that failed together does
 * not retry in step. `fraction` 0 (or `ms` 0) returns `ms` unchanged.
 */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  if (fraction <= 0 || ms <= 0) return ms;
  return Math.max(0, ms * (1 + fraction * (2 * random() - 1)));
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

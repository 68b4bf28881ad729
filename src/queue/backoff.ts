// Retry delays: retry n (n = 1 after the first failed run) waits
// min(initialMs * factor^(n-1), maxMs), then spread by ±jitter so failed jobs do not retry in
// lockstep.

import { exponentialDelay, jittered } from '../core/backoff.js';
import type { BackoffOptions } from './types.js';

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.1 };

export function resolveBackoff(b: BackoffOptions = {}): Required<BackoffOptions> {
  const r = { ...DEFAULT_BACKOFF, ...b };
  if (!(r.initialMs >= 0) || !(r.factor >= 1) || !(r.maxMs >= 0) || !(r.jitter >= 0 && r.jitter < 1)) {
    throw new RangeError(`invalid backoff ${JSON.stringify(b)}: need initialMs >= 0, factor >= 1, maxMs >= 0, 0 <= jitter < 1`);
  }
  return r;
}

export function retryDelayMs(b: Required<BackoffOptions>, retry: number, random: () => number = Math.random): number {
  return jittered(exponentialDelay(retry, b.initialMs, b.factor, b.maxMs), b.jitter, random);
}

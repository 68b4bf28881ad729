// Retry delays of failed jobs: core's one backoff formula (backoffDelay) with the queue's own
// defaults: retry n (n = 1 after the first failed run) waits min(1 s × 2^(n-1), 1 h), ±10%,
// so failed jobs do not retry in lockstep. Also the back-off of store calls that may heal.

import { backoffDelay, resolveBackoff as resolveCore } from '../core/backoff.js';
import type { BackoffOptions } from './types.js';

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.1 };

export function resolveBackoff(b: BackoffOptions = {}): Required<BackoffOptions> {
  const given = Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)) as BackoffOptions;
  const { initialMs, factor, maxMs, jitter } = resolveCore({ ...DEFAULT_BACKOFF, ...given });
  return { initialMs, factor, maxMs, jitter };
}

export function retryDelayMs(b: Required<BackoffOptions>, retry: number, random: () => number = Math.random): number {
  return backoffDelay(b, retry, random);
}

/** Retries of store calls that may heal (a restart, a lost connection): 100 ms doubling to 5 s, ±10%. */
export const STORE_RETRY: Required<BackoffOptions> = { initialMs: 100, factor: 2, maxMs: 5000, jitter: 0.1 };

export function storeRetryMs(n: number): number {
  return backoffDelay(STORE_RETRY, n);
}

// How long the engine waits before starting a manifold again: exponential backoff for errors,
// capped, then spread by a random fuzz so workers that failed together do not retry in step.

/** errorDelayMs × factor^(failures-1), capped at maxDelayMs. `failures` counts from 1. */
export function backoffDelay(failures: number, errorDelayMs: number, factor: number, maxDelayMs: number): number {
  const raw = errorDelayMs * Math.pow(factor, Math.max(0, failures - 1));
  return Math.min(raw, maxDelayMs);
}

/** `ms` moved by up to ±`fuzz` of itself (0.1 is ±10%); `fuzz` 0 returns `ms` unchanged. */
export function fuzzed(ms: number, fuzz: number, random: () => number = Math.random): number {
  if (fuzz <= 0 || ms <= 0) return ms;
  return Math.max(0, ms * (1 + fuzz * (2 * random() - 1)));
}

// Every timer in bosun goes through a Clock, so tests drive time with TestClock
// (bosun/testing) and never sleep. `systemClock` is the real one.

export interface TimerHandle {
  clear(): void;
}

export interface Clock {
  /** Milliseconds since the epoch (or since the clock's own origin for a test clock). */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms`, unless cleared first. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/** Sleep on any clock built from its `setTimeout`, honouring an AbortSignal. */
export function sleepOn(clock: Pick<Clock, 'setTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      timer.clear();
      reject(signal!.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { clear: () => clearTimeout(t) };
  },
};

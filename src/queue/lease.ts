// A singleton lease (leader election) as a Worker: `q.lease(name, { ttlMs }, start)` competes
// for `name` among every contender sharing the store, runs start's worker only while it holds
// the lease, renews every ttlMs/3, and kills that worker as soon as the lease may be lost.
// A holder that dies silently loses the lease after ttlMs; a holder that stops releases it.

import { randomUUID } from 'node:crypto';
import { isAbortLike, startWorker, type Clock, type Logger, type Worker } from '../core/index.js';
import { Bell } from './bell.js';
import { LeaseLostError } from './errors.js';
import type { LeaseOptions, Store } from './types.js';

export type LeaseStart = (signal: AbortSignal) => Worker | Promise<Worker>;

export function startLease(
  ctx: { store: Store; clock: Clock; logger: Logger },
  name: string,
  options: LeaseOptions,
  start: LeaseStart,
): Worker {
  if (typeof name !== 'string' || name === '') throw new TypeError('lease name must be a non-empty string');
  const ttlMs = options?.ttlMs;
  if (!(ttlMs >= 30) || !Number.isFinite(ttlMs)) throw new RangeError(`lease ttlMs must be >= 30, got ${ttlMs}`);
  const { store, clock, logger } = ctx;
  const holder = randomUUID();
  const renewMs = ttlMs / 3;

  return startWorker(async (signal) => {
    let child: { worker: Worker; abort: AbortController; ended: boolean; error: unknown } | undefined;
    const bell = new Bell();
    // Renewed at (local time before the query): the lease is surely ours until this + ttlMs.
    let heldSince = -Infinity;

    const stopChild = async (reason: unknown) => {
      const c = child;
      if (!c) return;
      child = undefined;
      c.abort.abort(reason);
      c.worker.kill(reason);
      await c.worker.wait().catch(() => {});
    };

    try {
      while (!signal.aborted) {
        const askedAt = clock.now();
        let held: boolean;
        try {
          held = await store.tryLease(name, holder, ttlMs);
          if (held) {
            heldSince = askedAt;
            options.onHeld?.(askedAt + ttlMs);
          }
        } catch (err) {
          // Unknown: keep the child only while the last confirmed renewal still covers us.
          held = clock.now() - heldSince < ttlMs - renewMs;
          logger.warn({ err, lease: name }, 'could not renew lease');
        }
        if (signal.aborted) break;
        if (held && child === undefined) {
          const abort = new AbortController();
          const worker = await start(abort.signal);
          const c = { worker, abort, ended: false, error: undefined as unknown };
          child = c;
          worker.wait().then(
            () => {
              c.ended = true;
              bell.ring();
            },
            (err: unknown) => {
              c.ended = true;
              c.error = err ?? new Error('lease child failed');
              bell.ring();
            },
          );
          logger.info({ lease: name }, 'lease acquired');
        } else if (!held && child !== undefined) {
          logger.warn({ lease: name }, 'lease lost; stopping its worker');
          await stopChild(new LeaseLostError(`lease ${name} was lost`));
        }
        if (child?.ended) {
          // The child stopped by itself: the lease worker stops with its result.
          const c = child;
          child = undefined;
          if (c.error !== undefined && !isAbortLike(c.error, c.abort.signal)) throw c.error;
          return;
        }
        await bell.wait(clock, renewMs, signal);
      }
    } finally {
      await stopChild(signal.reason);
      await store.releaseLease(name, holder).catch((err: unknown) => logger.warn({ err, lease: name }, 'could not release lease'));
    }
  });
}

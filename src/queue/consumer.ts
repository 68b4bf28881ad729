// A queue consumer: the Worker `q.worker(kind, handler)` returns. It claims due jobs of one
// kind in batches, runs up to `concurrency` handlers, renews their leases every leaseMs/2,
// and acknowledges each job on its own (done, retry later, failed). Killing it aborts the
// handlers' signals, waits up to `graceMs`, and gives back what is unfinished at once; a
// handler that surfaces its abort after the kill uses no attempt.
// A store error (database gone) stops the consumer with that error, so its supervisor decides.

import { randomUUID } from 'node:crypto';
import { isAbortLike, startWorker, toError, type Clock, type Logger, type Worker } from '../core/index.js';
import { AckBatcher } from './ack-batcher.js';
import { Bell } from './bell.js';
import { resolveBackoff, retryDelayMs } from './backoff.js';
import { LeaseLostError } from './errors.js';
import type { Claim, Job, JobEvent, Store, WorkerOptions } from './types.js';

export type Handler<P = unknown> = (job: Job<P>, signal: AbortSignal) => Promise<void> | void;

export interface ConsumerContext {
  store: Store;
  clock: Clock;
  logger: Logger;
  emit: (event: JobEvent) => void;
  /** Registers a wake-up for new jobs of a kind; returns the unregister. */
  onWake: (kind: string, fn: () => void) => () => void;
  reserve: (n: number) => void;
}

interface Running {
  job: Job;
  abort: AbortController;
  handlerDone: boolean;
  abandoned: boolean;
  done: Promise<void>;
}

export function startConsumer<P>(ctx: ConsumerContext, kind: string, handler: Handler<P>, options: WorkerOptions = {}): Worker {
  const concurrency = options.concurrency ?? 1;
  const leaseMs = options.leaseMs ?? 30_000;
  const pollMs = options.pollMs ?? 1000;
  const batchSize = options.batchSize ?? Math.min(concurrency, 100);
  // Jobs held at once: running plus claimed ahead (only when batchSize > concurrency).
  const maxHeld = Math.max(concurrency, batchSize);
  const graceMs = options.graceMs ?? 3000;
  const backoff = resolveBackoff(options.backoff);
  for (const [name, v, min] of [['concurrency', concurrency, 1], ['batchSize', batchSize, 1]] as const) {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  }
  for (const [name, v] of [['leaseMs', leaseMs], ['pollMs', pollMs], ['graceMs', graceMs]] as const) {
    if (!(v >= 0) || !Number.isFinite(v) || (name === 'leaseMs' && v < 20)) throw new RangeError(`${name} is invalid: ${v}`);
  }
  const { store, clock, logger, emit } = ctx;
  const token = randomUUID();
  const running = new Map<string, Running>();
  const bell = new Bell();
  const reapEveryMs = Math.max(20, Math.min(pollMs, leaseMs / 2));
  let fatal: Error | undefined;
  /** Handlers running now (a job whose handler ended may still be acknowledging). */
  let busy = 0;
  /** Claimed ahead of a free handler slot: leased and renewed, started in claim order. */
  const waiting: { claim: Claim; at: number }[] = [];
  const acks = new AckBatcher<Job>((jobs) => store.completeMany(jobs, token), (j) => j.id);

  const fail = (err: unknown) => {
    fatal ??= toError(err);
    bell.ring();
  };

  async function settle(r: Running, ok: boolean, err: unknown, startedAt: number): Promise<void> {
    const { job } = r;
    const durationMs = clock.now() - startedAt;
    if (r.abort.signal.reason instanceof LeaseLostError) return; // someone else owns the job now
    if (ok) {
      if (await acks.submit(job)) emit({ type: 'done', job: { ...job, state: 'done' }, durationMs });
      else logger.warn({ jobId: job.id, kind }, 'job finished but its claim was lost (lease expired or cancelled)');
      return;
    }
    if (r.abort.signal.aborted && isAbortLike(err, r.abort.signal)) {
      if (await store.release(job, token)) emit({ type: 'released', job: { ...job, state: 'pending', attempts: job.attempts - 1 } });
      return;
    }
    const error = toError(err);
    const willRetry = job.attempts < job.maxAttempts;
    const message = error.stack ?? `${error.name}: ${error.message}`;
    if (await store.fail(job, token, message, willRetry ? retryDelayMs(backoff, job.attempts) : null)) {
      emit({ type: 'error', job: { ...job, state: willRetry ? 'pending' : 'failed', lastError: message }, durationMs, error, willRetry });
    }
  }

  function run(claim: Claim, claimedAt: number, signal: AbortSignal): void {
    const job = claim.job;
    const abort = new AbortController();
    const r: Running = { job, abort, handlerDone: false, abandoned: false, done: Promise.resolve() };
    running.set(job.id, r);
    busy++;
    if (signal.aborted) abort.abort(signal.reason);
    r.done = (async () => {
      const startedAt = clock.now();
      emit({ type: 'start', job, latencyMs: claim.waitMs + (startedAt - claimedAt) });
      let ok = false;
      let err: unknown;
      try {
        await handler({ ...job } as Job<P>, abort.signal);
        ok = true;
      } catch (e) {
        err = e;
      }
      r.handlerDone = true;
      busy--;
      bell.ring(); // the slot is free for the next claim while this job is acknowledged
      try {
        if (!r.abandoned) await settle(r, ok, err, startedAt);
      } catch (storeErr) {
        fail(storeErr);
      } finally {
        if (running.get(job.id) === r) running.delete(job.id);
        bell.ring();
      }
    })();
  }

  async function renewLoop(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      try {
        await clock.sleep(leaseMs / 2, stop);
      } catch {
        return;
      }
      const snapshot = [...running.values()].filter((r) => !r.handlerDone && !r.abandoned);
      const ahead = waiting.map((w) => w.claim);
      if (snapshot.length + ahead.length === 0) continue;
      let held: Set<string>;
      try {
        held = await store.renew([...snapshot.map((r) => r.job.id), ...ahead.map((c) => c.job.id)], leaseMs, token);
      } catch (err) {
        logger.warn({ err, kind }, 'could not renew job leases; will try again');
        continue;
      }
      for (const c of ahead) {
        const i = waiting.findIndex((w) => w.claim === c);
        if (!held.has(c.job.id) && i >= 0) waiting.splice(i, 1);
      }
      for (const r of snapshot) {
        if (held.has(r.job.id) || r.handlerDone || r.abort.signal.aborted) continue;
        r.abort.abort(new LeaseLostError(`lease on job ${r.job.id} (${kind}) was lost: it expired or the job was cancelled`));
        emit({ type: 'lease-lost', job: r.job });
      }
    }
  }

  async function claimLoop(signal: AbortSignal): Promise<void> {
    let lastReap = -Infinity;
    while (!signal.aborted && fatal === undefined) {
      let waitMs = pollMs;
      while (busy < concurrency && waiting.length > 0) {
        const w = waiting.shift()!;
        run(w.claim, w.at, signal);
      }
      const room = maxHeld - busy - waiting.length;
      // Claim for a free slot at once; claim ahead only in batches worth a round trip.
      if (room > 0 && (busy < concurrency || room * 2 >= batchSize)) {
        if (clock.now() - lastReap >= reapEveryMs) {
          lastReap = clock.now();
          const n = await store.reap(kind);
          if (n > 0) logger.info({ kind, jobs: n }, 'expired leases: jobs made available again');
        }
        const want = Math.min(room, batchSize);
        const claims = await store.claim(kind, want, leaseMs, token);
        const at = clock.now();
        for (const c of claims) {
          if (busy < concurrency && !signal.aborted) run(c, at, signal);
          else waiting.push({ claim: c, at });
        }
        if (claims.length === want) continue;
        const due = await store.nextDueInMs(kind);
        // A job due but not claimed is locked by a competing claim right now: look again soon.
        if (due !== null) waitMs = Math.min(pollMs, Math.max(due, 5));
      }
      await bell.wait(clock, waitMs, signal);
    }
  }

  async function shutdown(reason: unknown): Promise<void> {
    // Jobs claimed ahead never started: give them back first, so others can take them now.
    await Promise.all(
      waiting.splice(0).map(async ({ claim: { job } }) => {
        try {
          if (await store.release(job, token)) emit({ type: 'released', job: { ...job, state: 'pending', attempts: job.attempts - 1 } });
        } catch (err) {
          logger.warn({ err, jobId: job.id }, 'could not release job; it is redelivered after its lease');
        }
      }),
    );
    for (const r of running.values()) if (!r.abort.signal.aborted) r.abort.abort(reason);
    if (running.size > 0) {
      const grace = new AbortController();
      await Promise.race([
        Promise.all([...running.values()].map((r) => r.done)),
        clock.sleep(graceMs, grace.signal).catch(() => {}),
      ]);
      grace.abort();
    }
    const left = [...running.values()].filter((r) => !r.handlerDone);
    await Promise.all(
      left.map(async (r) => {
        r.abandoned = true;
        running.delete(r.job.id);
        try {
          if (await store.release(r.job, token)) emit({ type: 'released', job: { ...r.job, state: 'pending', attempts: r.job.attempts - 1 } });
        } catch (err) {
          logger.warn({ err, jobId: r.job.id }, 'could not release job; it is redelivered after its lease');
        }
      }),
    );
    // Acknowledgements already under way finish before the consumer reports stopped.
    await Promise.all([...running.values()].map((r) => r.done));
  }

  ctx.reserve(concurrency);
  return startWorker(async (signal) => {
    const unwake = ctx.onWake(kind, () => bell.ring());
    const renewStop = new AbortController();
    const renewing = renewLoop(renewStop.signal);
    try {
      await claimLoop(signal);
    } catch (err) {
      fatal ??= toError(err);
    } finally {
      unwake();
      await shutdown(signal.aborted ? signal.reason : fatal);
      renewStop.abort();
      await renewing;
      ctx.reserve(-concurrency);
    }
    if (fatal !== undefined) throw fatal;
  });
}

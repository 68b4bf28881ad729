// A queue consumer: the Worker `q.worker(kind, handler)` returns. It claims due jobs of one
// kind in batches, runs up to `concurrency` handlers, renews their leases every leaseMs/2,
// and acknowledges each job on its own (done, retry later, failed).
//
// What it promises beyond that:
// - A job is held (its lease renewed, never released) until its handler has settled and its
//   outcome is recorded, so no second handler runs it meanwhile, even after a kill, a timeout or a
//   handler that ignores its abort signal; such a handler is reported (`stuck`), not doubled.
// - Jobs claimed ahead (batchSize > concurrency) that never started get their attempt back if
//   the consumer dies holding them: starts are recorded with the next acknowledgement (or at
//   once when none is under way), so claiming ahead costs no extra statements.
// - Store errors that may heal (a database restart, a lost connection) are logged and
//   retried with backoff: the consumer rides through outages of any length. Only an error
//   that will not heal (bad schema, authentication) stops it, so its supervisor decides.

import { randomUUID } from 'node:crypto';
import { isAbortLike, startWorker, TimeoutError, toError, type Clock, type Logger, type Worker } from '../core/index.js';
import { AckBatcher } from './ack-batcher.js';
import { Bell } from './bell.js';
import { resolveBackoff, retryDelayMs, storeRetryMs as retryIn } from './backoff.js';
import { isTransientStoreError, LeaseLostError } from './errors.js';
import type { KindHub } from './kind-hub.js';
import { storableText } from './payload.js';
import type { Claim, Job, JobEvent, Store, WorkerOptions } from './types.js';

export type Handler<P = unknown> = (job: Job<P>, signal: AbortSignal) => Promise<void> | void;

export interface ConsumerContext {
  store: Store;
  clock: Clock;
  logger: Logger;
  emit: (event: JobEvent) => void;
  /** What this queue's consumers of the kind share (wake-ups, polls, reaps). */
  hub: KindHub;
  /** Claim tokens of consumers alive in this process (never reaped by us); add/remove. */
  tokens: Set<string>;
  reserve: (n: number) => void;
  /** Aborts when the queue closes: work left after the consumer stopped (stuck handlers) ends then. */
  closing: AbortSignal;
  /** Keeps `done` running after the consumer stopped, until it settles or the queue closes. */
  linger: (done: Promise<void>) => void;
}

interface Running {
  job: Job;
  abort: AbortController;
  /** Why the handler's signal was aborted, if it was. */
  abortedBy: 'kill' | 'timeout' | 'lease' | undefined;
  handlerDone: boolean;
  /** Handler settled and its outcome recorded (or given up on). */
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
  const timeoutMs = options.timeoutMs;
  const backoff = resolveBackoff(options.backoff);
  for (const [name, v, min] of [
    ['concurrency', concurrency, 1],
    ['batchSize', batchSize, 1],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  }
  for (const [name, v] of [
    ['leaseMs', leaseMs],
    ['pollMs', pollMs],
    ['graceMs', graceMs],
    ['timeoutMs', timeoutMs ?? 1],
  ] as const) {
    if (!(v >= 0) || !Number.isFinite(v) || v > 2_147_483_647 || (name === 'leaseMs' && v < 20) || (name === 'timeoutMs' && v <= 0)) {
      throw new RangeError(`${name} is invalid: ${v}`);
    }
  }
  const { store, clock, logger, emit, hub } = ctx;
  const token = randomUUID();
  const running = new Map<string, Running>();
  const bell = new Bell();
  const reapEveryMs = Math.max(20, Math.min(pollMs, leaseMs / 2));
  let fatal: Error | undefined;
  /** Handler slots in use: running handlers plus jobs being started. */
  let busy = 0;
  /** Claimed ahead of a free handler slot: leased and renewed, started in claim order. */
  const waiting: { claim: Claim; at: number }[] = [];
  /** Jobs started from those held ahead whose start is not yet recorded in the store. */
  let unmarked: Job[] = [];
  // Each acknowledgement also records the starts made since the last one, in its statement.
  const acks = new AckBatcher<Job>(
    async (jobs) => {
      const marks = unmarked;
      unmarked = [];
      try {
        return (await store.completeMany(jobs, token, marks)).done;
      } catch (err) {
        unmarked.push(...marks);
        throw err;
      }
    },
    (j) => j.id,
  );

  /**
   * Records the start of a job held ahead: with the next acknowledgement when one is under
   * way by the next turn of the event loop (no extra statement), else on its own. Until then
   * the job counts as never started: should this process die within that moment, the run
   * gets its attempt back.
   */
  function markStarted(job: Job): void {
    unmarked.push(job);
    if (unmarked.length > 1) return; // a flush is already due
    // One turn of the event loop later: a short handler's acknowledgement carries it by then.
    setImmediate(() => {
      if (acks.active || unmarked.length === 0) return;
      const marks = unmarked;
      unmarked = [];
      store.start(marks, token).catch((err: unknown) => {
        unmarked.push(...marks);
        logger.warn({ err, kind }, 'could not record job starts; they go with the next acknowledgement');
      });
    });
  }

  const fail = (err: unknown) => {
    fatal ??= toError(err);
    bell.ring();
  };

  /**
   * Runs a store call until it succeeds, retrying errors that may heal with backoff; throws
   * what will not heal, or the last error once `until` aborts.
   */
  async function durable<T>(what: string, call: () => Promise<T>, until: AbortSignal): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await call();
      } catch (err) {
        if (!isTransientStoreError(err) || until.aborted) throw err;
        const wait = retryIn(n);
        report(err, what, wait);
        try {
          await clock.sleep(wait, until);
        } catch {
          throw err;
        }
      }
    }
  }

  function report(err: unknown, what: string, retryInMs: number): void {
    logger.warn({ err, kind, retryInMs: Math.round(retryInMs) }, `queue store unavailable (${what}); retrying`);
  }

  async function settle(r: Running, ok: boolean, err: unknown, startedAt: number): Promise<void> {
    const { job } = r;
    const durationMs = clock.now() - startedAt;
    if (r.abortedBy === 'lease') return; // someone else owns the job now
    if (ok && r.abortedBy !== 'timeout') {
      if (await durable('acknowledge', () => acks.submit(job), ctx.closing))
        emit({ type: 'done', job: { ...job, state: 'done' }, durationMs });
      else logger.warn({ jobId: job.id, kind }, 'job finished but its claim was lost (lease expired or cancelled)');
      return;
    }
    if (r.abortedBy === 'kill' && isAbortLike(err, r.abort.signal)) {
      if (await durable('release', () => store.release(job, token), ctx.closing)) {
        emit({ type: 'released', job: { ...job, state: 'pending', attempts: job.attempts - 1 } });
      }
      return;
    }
    const error = r.abortedBy === 'timeout' ? (r.abort.signal.reason as Error) : toError(err);
    const willRetry = job.attempts < job.maxAttempts;
    const message = storableText(error.stack ?? `${error.name}: ${error.message}`);
    const delay = willRetry ? retryDelayMs(backoff, job.attempts) : null;
    if (await durable('record failure', () => store.fail(job, token, message, delay), ctx.closing)) {
      emit({ type: 'error', job: { ...job, state: willRetry ? 'pending' : 'failed', lastError: message }, durationMs, error, willRetry });
    }
  }

  function run(claim: Claim, claimedAt: number, signal: AbortSignal): void {
    const job = claim.job;
    const abort = new AbortController();
    const r: Running = { job, abort, abortedBy: undefined, handlerDone: false, done: Promise.resolve() };
    running.set(job.id, r);
    if (signal.aborted) {
      r.abortedBy = 'kill';
      abort.abort(signal.reason);
    }
    const timer =
      timeoutMs === undefined
        ? undefined
        : clock.setTimeout(() => {
            if (r.handlerDone || abort.signal.aborted) return;
            r.abortedBy = 'timeout';
            abort.abort(new TimeoutError(`job ${job.id} (${kind}) was still running after timeoutMs ${timeoutMs}`));
            watchStuck(r);
          }, timeoutMs);
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
      timer?.clear();
      r.handlerDone = true;
      busy--;
      bell.ring(); // the slot is free for the next claim while this job is acknowledged
      try {
        await settle(r, ok, err, startedAt);
      } catch (storeErr) {
        if (!ctx.closing.aborted) fail(storeErr);
        else
          logger.warn(
            { err: storeErr, jobId: job.id, kind },
            'queue closed before the job could be recorded; it is redelivered after its lease',
          );
      } finally {
        if (running.get(job.id) === r) running.delete(job.id);
      }
    })();
  }

  /** After an abort, a handler that has not settled within graceMs is reported (its job stays held). */
  function watchStuck(r: Running): void {
    const t = clock.setTimeout(() => {
      if (r.handlerDone) return;
      const reason = toError(r.abort.signal.reason);
      logger.error(
        { jobId: r.job.id, kind, reason: reason.message },
        `job handler ignored its abort for ${graceMs} ms; its job stays held (lease renewed) until the handler settles`,
      );
      emit({ type: 'stuck', job: r.job, reason });
    }, graceMs);
    void r.done.then(() => t.clear());
  }

  async function renewLoop(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      try {
        await clock.sleep(leaseMs / 2, stop);
      } catch {
        return;
      }
      // A job stays held until its outcome is recorded, not only while its handler runs: a
      // slow acknowledgement must not let the lease lapse and the job run a second time.
      const snapshot = [...running.values()].filter((r) => r.abortedBy !== 'lease');
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
        if (held.has(r.job.id) || r.handlerDone || r.abortedBy === 'lease') continue;
        r.abortedBy = 'lease';
        r.abort.abort(new LeaseLostError(`lease on job ${r.job.id} (${kind}) was lost: it expired or the job was cancelled`));
        emit({ type: 'lease-lost', job: r.job });
      }
    }
  }

  /** Starts jobs claimed ahead, in claim order, into free slots. */
  function startAhead(signal: AbortSignal): void {
    while (busy < concurrency && waiting.length > 0 && !signal.aborted) {
      const w = waiting.shift()!;
      busy++;
      run(w.claim, w.at, signal);
      markStarted(w.claim.job);
    }
  }

  async function look(signal: AbortSignal): Promise<number> {
    let waitMs = pollMs;
    bell.clear(); // this look sees every slot freed so far
    startAhead(signal);
    const room = maxHeld - busy - waiting.length;
    const free = concurrency - busy;
    // Claim for a free slot at once; claim ahead only in batches worth a round trip.
    if (room > 0 && (free > 0 || room * 2 >= batchSize)) {
      hub.lastLookAt = clock.now();
      if (clock.now() - hub.lastReapAt >= reapEveryMs) {
        hub.lastReapAt = clock.now();
        const n = await store.reap(kind, [...ctx.tokens]);
        if (n > 0) logger.info({ kind, jobs: n }, 'expired leases: jobs made available again');
      }
      const want = Math.min(room, batchSize);
      const { claims, nextDueMs } = await store.claim(kind, want, Math.max(0, Math.min(free, want)), leaseMs, token);
      const at = clock.now();
      claims.forEach((c, i) => {
        if (i < free && !signal.aborted) {
          busy++;
          run(c, at, signal);
        } else {
          waiting.push({ claim: c, at });
        }
      });
      if (claims.length === want) {
        hub.nudge(); // there may be more: let another idle consumer of the kind look too
        return 0;
      }
      // A job due but not claimed is locked by a competing claim right now: look again soon.
      if (nextDueMs !== null) waitMs = Math.min(pollMs, Math.max(nextDueMs, 5));
    }
    return waitMs;
  }

  async function claimLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let waitMs = 0;
    let polled = true;
    /** The current wait is the poll cadence (not a due job's time): skippable. */
    let pollWait = false;
    while (!signal.aborted && fatal === undefined) {
      if (polled) {
        try {
          waitMs = await look(signal);
          pollWait = waitMs === pollMs;
          failures = 0;
        } catch (err) {
          if (!isTransientStoreError(err)) throw err;
          const wait = retryIn(++failures);
          report(err, 'claim', wait);
          await clock.sleep(wait, signal).catch(() => {});
          continue;
        }
        if (waitMs === 0) continue;
      }
      let end: string;
      // Only a consumer with room takes wake-ups meant for the kind.
      const room = maxHeld - busy - waiting.length > 0 || (busy < concurrency && waiting.length > 0);
      if (!room) end = await bell.wait(clock, waitMs, signal);
      else if (hub.takeOwed()) end = 'rung';
      else {
        const leave = hub.idle(() => bell.ring());
        end = await bell.wait(clock, waitMs, signal);
        leave();
      }
      // A timed poll right after another consumer of this kind looked is skipped: it would
      // find what that one found.
      const since = clock.now() - hub.lastLookAt;
      polled = !(end === 'timeout' && pollWait && since < pollMs * 0.9);
      if (!polled) waitMs = Math.max(1, pollMs - since);
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
    for (const r of running.values()) {
      if (r.abort.signal.aborted) continue;
      r.abortedBy = 'kill';
      r.abort.abort(reason);
      watchStuck(r);
    }
    if (running.size > 0) {
      const grace = new AbortController();
      await Promise.race([Promise.all([...running.values()].map((r) => r.done)), clock.sleep(graceMs, grace.signal).catch(() => {})]);
      grace.abort();
    }
  }

  ctx.reserve(concurrency);
  return startWorker(async (signal) => {
    const leaveHub = hub.join();
    ctx.tokens.add(token);
    const renewStop = new AbortController();
    const renewing = renewLoop(renewStop.signal);
    try {
      await claimLoop(signal);
    } catch (err) {
      fatal ??= toError(err);
    } finally {
      leaveHub();
      await shutdown(signal.aborted ? signal.reason : fatal);
      // Handlers that have not settled keep their jobs held: renewals go on until they
      // settle (and are recorded), or until the queue closes.
      const left = [...running.values()].map((r) => r.done);
      const finish = async () => {
        if (left.length > 0 && !ctx.closing.aborted) {
          let onClose!: () => void;
          const closed = new Promise<void>((r) => ctx.closing.addEventListener('abort', (onClose = () => r()), { once: true }));
          await Promise.race([Promise.all(left), closed]);
          ctx.closing.removeEventListener('abort', onClose);
        }
        renewStop.abort();
        await renewing;
        ctx.tokens.delete(token);
        ctx.reserve(-concurrency);
      };
      if (left.length === 0 || ctx.closing.aborted) await finish();
      else ctx.linger(finish());
    }
    if (fatal !== undefined) throw fatal;
  });
}

// Recurring jobs: `q.schedule(name, { cron, kind, payload?, timezone? })` stores a schedule in
// the store, and every running `q.scheduler()` Worker, on any host, adds the job of each due
// tick. Exactly once: a tick is taken by moving the schedule's last tick forward with a
// compare-and-set in the same statement that adds the job, so of many schedulers one wins.
// Ticks are computed from the store's clock (the database's now() on the SQL stores). A
// tick missed while no scheduler ran is made up once, at the next start: several missed
// ticks add one job, for the latest of them. The job's runAt is its tick.

import { Cron } from 'croner';
import { startWorker, type Clock, type Logger, type Worker } from '../core/index.js';
import { storeRetryMs } from './backoff.js';
import { isTransientStoreError } from './errors.js';
import { checkKind, checkPayload, checkText } from './payload.js';
import type { ScheduleSpec, Store } from './types.js';

export interface ScheduleOptions {
  /** croner syntax: 5 fields, or 6 with seconds first. */
  cron: string;
  kind: string;
  payload?: unknown;
  /** IANA time zone of the cron expression. Default: UTC. */
  timezone?: string;
}

export interface SchedulerOptions {
  /** Longest sleep between looks, so schedules added elsewhere are seen. Default 1000. */
  pollMs?: number;
}

function cronOf(cron: string, timezone: string | null): Cron {
  return new Cron(cron, { paused: true, timezone: timezone ?? 'UTC' });
}

/** Validates `q.schedule` input into what the store keeps. */
export function scheduleSpec(name: unknown, options: ScheduleOptions): ScheduleSpec {
  const n = checkText('schedule name', name);
  if (typeof options?.cron !== 'string' || options.cron.trim() === '')
    throw new TypeError(`schedule ${n}: cron must be a cron expression string`);
  const kind = checkKind(options.kind);
  const payloadJson = checkPayload(options.payload === undefined ? null : options.payload);
  const timezone = options.timezone === undefined ? null : checkText(`schedule ${n}: timezone`, options.timezone, 100);
  let next: Date | null;
  try {
    next = cronOf(options.cron, timezone).nextRun();
  } catch (err) {
    throw new RangeError(
      `schedule ${n}: invalid cron ${JSON.stringify(options.cron)}${timezone ? ` or timezone ${timezone}` : ''}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (next === null) throw new RangeError(`schedule ${n}: cron ${JSON.stringify(options.cron)} has no future run`);
  return { name: n, cron: options.cron, kind, payloadJson, timezone };
}

export function startScheduler(ctx: { store: Store; clock: Clock; logger: Logger }, options: SchedulerOptions = {}): Worker {
  const pollMs = options.pollMs ?? 1000;
  if (!(pollMs >= 10) || !Number.isFinite(pollMs)) throw new RangeError(`scheduler pollMs must be >= 10, got ${pollMs}`);
  const { store, clock, logger } = ctx;
  const crons = new Map<string, Cron>();
  const cron = (s: ScheduleSpec) => {
    const key = `${s.timezone ?? ''}\u0001${s.cron}`;
    let c = crons.get(key);
    if (c === undefined) crons.set(key, (c = cronOf(s.cron, s.timezone)));
    return c;
  };

  /** Adds the jobs of due ticks; returns ms until the next tick of any schedule. */
  async function pass(): Promise<number> {
    const { list, nowMs } = await store.schedules();
    let nextIn = pollMs;
    for (const s of list) {
      let c: Cron;
      try {
        c = cron(s);
      } catch (err) {
        logger.error({ err, schedule: s.name }, 'schedule has an invalid cron expression; skipped');
        continue;
      }
      // The latest tick at or before now; with several missed, only that one is added.
      const latest = c.previousRuns(1, new Date(nowMs + 1))[0]?.getTime();
      if (latest !== undefined && latest > s.lastTickMs) {
        const job = {
          kind: s.kind,
          payloadJson: s.payloadJson,
          runAtMs: latest,
          delayMs: 0,
          priority: 0,
          maxAttempts: 5,
          key: null,
          queue: null,
        };
        if (await store.tick(s.name, s.lastTickMs, latest, job))
          logger.debug({ schedule: s.name, tick: new Date(latest).toISOString() }, 'scheduled job added');
      }
      const next = c.nextRun(new Date(nowMs))?.getTime();
      if (next !== undefined) nextIn = Math.min(nextIn, next - nowMs);
    }
    return Math.max(1, nextIn);
  }

  return startWorker(async (signal) => {
    let failures = 0;
    while (!signal.aborted) {
      let waitMs: number;
      try {
        waitMs = await pass();
        failures = 0;
      } catch (err) {
        if (!isTransientStoreError(err)) throw err;
        waitMs = storeRetryMs(++failures);
        logger.warn({ err, retryInMs: Math.round(waitMs) }, 'queue store unavailable (scheduler); retrying');
      }
      await clock.sleep(waitMs, signal).catch(() => {});
    }
  });
}

// A singleton instance: the Worker a program Supervisor runs for a `placement: singleton`
// program. It competes for the program's lease through the queue's `q.lease` (the only
// election), runs the program only while it holds it (a tenure), and is `standby` otherwise.
// Losing the lease is not a crash of the program: the holder stops the tenure and goes back
// to standby, inside the same Worker, so the Supervisor's restarts count only the program's
// own failures. When the program ends by itself, the holder ends with its result (and the
// lease is released, so another host may take the program).
//
// Fencing: after each renewal the lease is surely held until `heldUntil` (lease.ts onHeld). A
// tenure must be gone `marginMs` before that, and stopping takes up to killTimeout, so the
// holder stops it at `heldUntil - marginMs - killTimeout` unless a renewal moved the deadline.
// The same deadline goes to the fence (a watchdog process outside the daemon's event loop),
// which acts if the daemon cannot: frozen, stalled, or dead.

import type { Clock } from '../core/clock.js';
import { BosunError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { quiet, type Worker } from '../core/worker.js';
import type { LeaseOptions } from '../queue/types.js';
import type { FenceLink } from './fence.js';
import { FENCE_ENV, monotonicMs } from './fence-protocol.js';
import { leaseTiming } from './fleet-config.js';
import { LeaseLostError } from '../queue/errors.js';

/** A tenure stopped because its lease could not be renewed in time (not a failure of the program). */
export class FencedError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FENCED', message, options);
  }
}

/** What a singleton needs of the queue: its lease. */
export interface LeaseSource {
  lease(name: string, options: LeaseOptions, start: (signal: AbortSignal) => Worker | Promise<Worker>): Worker;
}

export interface SingletonContext {
  queue: LeaseSource;
  leaseTtlMs: number;
  clock: Clock;
  fence: FenceLink;
  /** This daemon's host name, for messages. */
  host: string;
  logger?: Logger;
}

/** One run of the program (a ProgramInstance). */
export interface Tenure {
  readonly pid: number | null;
  kill(): void;
  wait(): Promise<void>;
  readyOrDone(): Promise<void>;
}

/** What the fleet gives a singleton instance: how to run the program, and where to say what it does. */
export interface SingletonInstance {
  program: string;
  index: number;
  killSignal: string;
  killTimeoutMs: number;
  /** Spawns one tenure with `env` added; the fleet's record follows it. `signal` aborts when the holder stops it. */
  launch(signal: AbortSignal, env: Record<string, string>): Tenure;
  /** The instance waits for the lease. */
  standby(detail: string): void;
  /** The tenure is stopped (or was found stopped) because the lease was lost or could not be renewed in time. */
  leaseLost(detail: string): void;
}

/** The lease a singleton program's hosts compete for. */
export function leaseName(program: string): string {
  return `bosun.fleet.singleton:${program}`;
}

/**
 * Starts a singleton instance. Resolves with its Worker once the first tenure is ready or has
 * ended (start_link); until then the instance is standby. Rejects with `signal`'s reason if it
 * is aborted first, or with the error that ended the holder.
 */
export function startSingleton(ctx: SingletonContext, inst: SingletonInstance, signal: AbortSignal): Promise<Worker> {
  const holder = new SingletonHolder(ctx, inst);
  const onAbort = () => holder.kill(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return holder.started().then(
    () => {
      signal.removeEventListener('abort', onAbort);
      return holder;
    },
    (err: unknown) => {
      signal.removeEventListener('abort', onAbort);
      throw signal.aborted ? signal.reason : err;
    },
  );
}

/** Waits for `p` at most `ms` on `clock`; what is left then is let go (its errors already handled). */
async function settleWithin(p: Promise<unknown>, ms: number, clock: Clock): Promise<void> {
  const abort = new AbortController();
  await Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    clock.sleep(ms, abort.signal).catch(() => undefined),
  ]);
  abort.abort();
}

class SingletonHolder implements Worker {
  readonly kind = 'worker' as const;
  readonly #ctx: SingletonContext;
  readonly #inst: SingletonInstance;
  readonly #timing: ReturnType<typeof leaseTiming>;
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;
  readonly #started: Promise<void>;
  #markStarted!: () => void;
  /** Lease clock time until which the lease is surely held; -Infinity when not held. */
  #heldUntil = -Infinity;
  #tenure: TenureRun | undefined;
  #count = 0;
  #round = 0;

  constructor(ctx: SingletonContext, inst: SingletonInstance) {
    this.#ctx = ctx;
    this.#inst = inst;
    this.#timing = leaseTiming(ctx.leaseTtlMs);
    const started = new Promise<void>((resolve) => (this.#markStarted = resolve));
    this.#done = quiet(this.#run());
    this.#started = quiet(
      Promise.race([started, this.#done.then(() => Promise.reject(new FencedError('the singleton stopped before it ran')))]),
    );
  }

  started(): Promise<void> {
    return this.#started;
  }

  kill(reason?: unknown): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
  }

  wait(): Promise<void> {
    return this.#done;
  }

  get #name(): string {
    return `${this.#inst.program}[${this.#inst.index}]`;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    // Lease workers let go after a fence: their query may hang on a cut connection, so they are
    // not waited for before competing again, only (for a while) when the holder ends.
    const abandoned: Promise<unknown>[] = [];
    try {
      while (!signal.aborted) {
        this.#heldUntil = -Infinity;
        // Only this round's contender speaks for the lease: a let-go one's late renewal does not.
        const round = ++this.#round;
        this.#inst.standby(
          `standby: waiting for the lease of ${this.#inst.program} (another host holds it, or the database is out of reach)`,
        );
        let fenced!: () => void;
        const fence = new Promise<'fenced'>((resolve) => (fenced = () => resolve('fenced')));
        const lease = this.#ctx.queue.lease(
          leaseName(this.#inst.program),
          {
            ttlMs: this.#ctx.leaseTtlMs,
            onHeld: (until) => {
              if (round === this.#round) this.#held(until);
            },
          },
          (leaseSignal) => this.#startTenure(leaseSignal, fenced),
        );
        const stop = () => lease.kill(signal.reason);
        signal.addEventListener('abort', stop, { once: true });
        const ended = quiet(
          lease.wait().then(
            () => 'ended' as const,
            (err: unknown) => {
              if (err instanceof FencedError) return 'fenced' as const;
              throw err;
            },
          ),
        );
        try {
          if ((await Promise.race([ended, fence])) === 'ended') return;
        } finally {
          signal.removeEventListener('abort', stop);
        }
        // Fenced: the program is gone. Compete again at once with a fresh contender.
        this.#ctx.logger?.warn(
          { program: this.#inst.program, host: this.#ctx.host },
          'singleton fenced: its lease was not renewed in time',
        );
        lease.kill();
        abandoned.push(ended.catch(() => {}));
      }
    } finally {
      if (abandoned.length > 0) await settleWithin(Promise.all(abandoned), this.#ctx.leaseTtlMs, this.#ctx.clock);
    }
  }

  #held(untilMs: number): void {
    this.#heldUntil = untilMs;
    this.#tenure?.renewed();
  }

  /** When the tenure must be gone, on the lease clock. */
  goneBy(): number {
    return this.#heldUntil - this.#timing.marginMs;
  }

  /** When stopping must begin: killTimeout before goneBy. */
  stopAt(): number {
    return this.goneBy() - this.#inst.killTimeoutMs;
  }

  async #startTenure(leaseSignal: AbortSignal, fenced: () => void): Promise<Worker> {
    await this.#ctx.fence.ready();
    if (this.#ctx.clock.now() >= this.stopAt())
      throw new FencedError(`${this.#name}: the lease was taken too late to start the program safely; trying again`);
    const run = new TenureRun(this, this.#ctx, this.#inst, ++this.#count, leaseSignal);
    this.#tenure = run;
    void run.wait().then(
      () => this.#tenureEnded(run, leaseSignal),
      (err: unknown) => {
        this.#tenureEnded(run, leaseSignal);
        if (err instanceof FencedError) fenced();
      },
    );
    void run.instance.readyOrDone().then(() => this.#markStarted());
    return run;
  }

  #tenureEnded(run: TenureRun, leaseSignal: AbortSignal): void {
    if (this.#tenure === run) this.#tenure = undefined;
    // The lease worker stopped it because the lease was lost; it competes again by itself.
    if (leaseSignal.aborted && !this.#abort.signal.aborted) {
      this.#heldUntil = -Infinity;
      this.#inst.standby(`standby: the lease of ${this.#inst.program} was lost; waiting to take it again`);
    }
  }
}

/** One tenure: the program's run while the lease is held, stopped at its deadline unless renewed. */
class TenureRun implements Worker {
  readonly kind = 'worker' as const;
  readonly instance: Tenure;
  readonly #holder: SingletonHolder;
  readonly #ctx: SingletonContext;
  readonly #inst: SingletonInstance;
  readonly #id: string;
  readonly #marker: string;
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;
  #timer: { clear(): void } | undefined;
  #fenced = false;
  #ended = false;

  constructor(holder: SingletonHolder, ctx: SingletonContext, inst: SingletonInstance, n: number, leaseSignal: AbortSignal) {
    this.#holder = holder;
    this.#ctx = ctx;
    this.#inst = inst;
    this.#id = `${inst.program}[${inst.index}]#${n}`;
    // Unique on the machine: this daemon, this instance, this tenure (two programs' tenures never share one).
    this.#marker = `${process.pid}.${inst.program}.${inst.index}.${n}.${Date.now().toString(36)}`;
    // The deadline reaches the fence before the program exists (see fence.ts).
    this.#tell(null);
    const onLeaseAbort = () => {
      if (leaseSignal.reason instanceof LeaseLostError && !this.#fenced)
        inst.leaseLost(`the lease of ${inst.program} was lost (another host took it), so the program was stopped`);
      this.#abort.abort(leaseSignal.reason);
    };
    if (leaseSignal.aborted) onLeaseAbort();
    else leaseSignal.addEventListener('abort', onLeaseAbort, { once: true });
    this.instance = inst.launch(this.#abort.signal, { [FENCE_ENV]: this.#marker });
    this.#tell(this.instance.pid);
    this.#arm();
    this.#done = quiet(
      this.instance.wait().then(
        () => this.#settle(undefined),
        (err: unknown) => this.#settle(err),
      ),
    );
    void this.#done.catch(() => {}).finally(() => leaseSignal.removeEventListener('abort', onLeaseAbort));
  }

  kill(): void {
    this.instance.kill();
  }

  wait(): Promise<void> {
    return this.#done;
  }

  /** A renewal came through: the deadline moves. */
  renewed(): void {
    if (this.#ended || this.#fenced) return;
    this.#tell(this.instance.pid);
    this.#arm();
  }

  #tell(pid: number | null): void {
    const { clock } = this.#ctx;
    this.#ctx.fence.hold(this.#id, {
      pid,
      marker: this.#marker,
      killSignal: this.#inst.killSignal,
      killTimeoutMs: this.#inst.killTimeoutMs,
      goneBy: monotonicMs() + (this.#holder.goneBy() - clock.now()),
    });
  }

  #arm(): void {
    this.#timer?.clear();
    const { clock } = this.#ctx;
    this.#timer = clock.setTimeout(() => this.#deadline(), Math.max(0, this.#holder.stopAt() - clock.now()));
  }

  #deadline(): void {
    if (this.#ended || this.#fenced) return;
    if (this.#ctx.clock.now() < this.#holder.stopAt()) return this.#arm();
    this.#fenced = true;
    this.#inst.leaseLost(
      `fenced: the lease of ${this.#inst.program} was not renewed in time, so the program was stopped before the lease could expire`,
    );
    this.#abort.abort(new FencedError(`${this.#inst.program}[${this.#inst.index}]: lease not renewed in time`));
    this.instance.kill();
  }

  #settle(err: unknown): void {
    this.#ended = true;
    this.#timer?.clear();
    this.#ctx.fence.release(this.#id);
    // Ended past its deadline without a renewal: the fence stopped it while the daemon could not act.
    if (!this.#fenced && !this.#abort.signal.aborted && this.#ctx.clock.now() >= this.#holder.stopAt()) {
      this.#fenced = true;
      this.#inst.leaseLost(`fenced: the watchdog stopped ${this.#inst.program} while this daemon could not renew its lease`);
    }
    if (this.#fenced)
      throw new FencedError(
        `${this.#inst.program}[${this.#inst.index}] on ${this.#ctx.host} was fenced: its lease was not renewed in time`,
        { cause: err },
      );
    if (err !== undefined) throw err;
  }
}

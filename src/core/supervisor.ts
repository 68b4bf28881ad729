// Supervisor: Erlang/OTP's supervisor behaviour for Workers. It starts its children in
// order, restarts them by strategy and restart type with backoff, gives up (stopping every
// child, in reverse order) when restarts exceed its intensity, and is itself a Worker, so
// trees nest: a child supervisor that gives up is one crash in its parent.
//
// Every decision runs in one serial queue, like the single OTP process it copies: an exit
// that arrives while a restart is stopping siblings is handled after that restart.

import { getEventListeners } from 'node:events';
import {
  isWorker,
  resolveSpec,
  shutdownOf,
  type AutoShutdown,
  type ChildInfo,
  type ChildSpec,
  type ChildState,
  type ResolvedSpec,
  type ShutdownMs,
  type Strategy,
} from './child-spec.js';
import { backoffDelay, nextFailure, resolveBackoff, type ResolvedBackoff } from './backoff.js';
import { AlreadyExistsError, DeadError, KilledError, NotFoundError, RestartIntensityError, isAbortLike, toError } from './errors.js';
import { Emitter, type Listener } from './events.js';
import { RestartWindow } from './intensity.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import { quiet, type Worker } from './worker.js';
import { ChildRun, within, type ChildRecord, type ExitFn } from './child-run.js';
import { SerialQueue } from './serial-queue.js';
import { reportOf, type Reporter } from './reporter.js';
import { ReusedWorkerError, reusedWorker } from './reused-worker.js';
import type { SupervisorEvents, SupervisorOptions } from './supervisor-options.js';

export type { SupervisorEvents, SupervisorOptions } from './supervisor-options.js';

/** The abort reason of a run's signal once the run ended on its own (one object, no stack per restart). */
const RUN_ENDED = new KilledError('child run ended');

/**
 * An OTP supervisor for Workers. It runs from construction: children start in the order
 * given (after the current tick, so listeners attached right after `new` see them start).
 *
 * - `strategy` (default `'one_for_one'`): `one_for_one` restarts only the crashed child;
 *   `one_for_all` stops the others in reverse start order and restarts all in order;
 *   `rest_for_one` does that for the crashed child and those started after it. Temporary
 *   children caught in such a restart are dropped; explicitly terminated ones stay stopped.
 * - `intensity`/`periodMs` (default 1 restart in 5000 ms, OTP's): the restart that would be
 *   the (intensity+1)-th within `periodMs` makes the supervisor stop all children and die
 *   with `RestartIntensityError`, whose `cause` is the last child error. `Infinity` never
 *   gives up.
 * - `backoff` (default initial 100 ms, factor 2, max 30 s, jitter ±10%, reset after 30 s):
 *   see `BackoffOptions`. Intensity counts a restart when it is decided, before the delay.
 * - `isFatal(err)` (default: nothing is fatal): a child error for which it returns true
 *   stops everything and the supervisor dies with that error.
 * - `autoShutdown` (default `'never'`): with `'any_significant'` the supervisor stops
 *   cleanly when a significant child exits and is not restarted; with `'all_significant'`
 *   when the last such child has.
 *
 * Starting is OTP's start_link: a `start` that returns a promise, or a Worker with
 * `started()`, holds back the next sibling until it settled (see docs/core.md). A failed
 * start (a throw, a rejection) while the supervisor starts up makes it stop the children
 * already started and die with that error (OTP's failed init); at a restart it counts as a
 * crash, and a group restart goes on from that child only; from `startChild` it rejects the
 * call and the child is not added. `started()` resolves once every child has started.
 * A `transient` child tree that gave up (RestartIntensityError) is not restarted, as OTP
 * decides on a supervisor's exit reason `shutdown`; it stays `failed` in `children()`.
 *
 * ```ts
 * const sup = new Supervisor({
 *   strategy: 'rest_for_one',
 *   children: [
 *     { id: 'db', start: (signal) => openPool(signal) },           // Promise<Worker>
 *     { id: 'api', start: () => startWorker((signal) => serve(signal)) },
 *   ],
 * });
 * sup.on('childRestarting', (e) => log(`${e.id} restarts in ${e.delayMs} ms`));
 * await sup.wait(); // rejects with RestartIntensityError if it gives up
 * ```
 */
/** What `Supervisor.report()` gives: each child's `children()` entry and, while it runs, its Worker's own report. */
export interface SupervisorReport {
  name: string;
  children: { id: string; state: ChildState; restarts: number; lastError?: string; startedAt?: number; report?: object }[];
}

export class Supervisor implements Worker, Reporter {
  /** A supervisor is a tree: its parent waits for it to stop as long as its children take. */
  readonly kind = 'tree';
  readonly name: string;
  readonly #clock: Clock;
  readonly #strategy: Strategy;
  readonly #autoShutdown: AutoShutdown;
  readonly #backoff: ResolvedBackoff;
  readonly #window: RestartWindow;
  readonly #isFatal: (err: Error) => boolean;
  readonly #random: () => number;
  readonly #log: Logger | undefined;
  readonly #events: Emitter<SupervisorEvents>;
  readonly #records: ChildRecord[] = [];
  readonly #byId = new Map<string, ChildRecord>();
  readonly #exit: ExitFn = (run, err, failed) => {
    // Called from a child's settled promise: a throw here would be an unhandled rejection.
    try {
      this.#onExit(run, err, failed);
    } catch (e) {
      this.#queue.enqueue(() => this.#internalError(e));
    }
  };
  /** Created busy so that nothing overtakes the start-up sequence. */
  readonly #queue = new SerialQueue((err) => this.#internalError(err), true);
  #dying = false;
  #shutdownStarted = false;
  #stopped = false;
  #error: Error | undefined;
  #timer: TimerHandle | undefined;
  #timerDue = Infinity;
  #settle!: (err: Error | undefined) => void;
  readonly #done: Promise<void>;
  #startupDone!: (err: Error | undefined) => void;
  /** The last start of a sequence, settling outside the queue (see #detach). */
  #tail: Promise<void> | undefined;
  readonly #startup: Promise<void>;

  constructor(options: SupervisorOptions = {}) {
    this.name = options.name ?? 'supervisor';
    this.#clock = options.clock ?? systemClock;
    this.#strategy = options.strategy ?? 'one_for_one';
    if (!['one_for_one', 'one_for_all', 'rest_for_one'].includes(this.#strategy)) {
      throw new TypeError(`supervisor ${this.name}: unknown strategy ${String(this.#strategy)}`);
    }
    this.#autoShutdown = options.autoShutdown ?? 'never';
    if (!['never', 'any_significant', 'all_significant'].includes(this.#autoShutdown)) {
      throw new TypeError(`supervisor ${this.name}: unknown autoShutdown ${String(this.#autoShutdown)}`);
    }
    this.#backoff = resolveBackoff(options.backoff);
    this.#window = new RestartWindow(options.intensity ?? 1, options.periodMs ?? 5000);
    this.#isFatal = options.isFatal ?? (() => false);
    this.#random = options.random ?? Math.random;
    const logger = options.logger ?? silentLogger;
    this.#log = logger === silentLogger ? undefined : logger;
    this.#events = new Emitter<SupervisorEvents>((err, event) =>
      this.#log?.error({ supervisor: this.name, event, err }, 'supervisor event listener threw'),
    );
    for (const spec of options.children ?? []) {
      const resolved = resolveSpec(spec, this.#autoShutdown);
      if (this.#byId.has(resolved.id)) throw new AlreadyExistsError(`supervisor ${this.name}: duplicate child id ${resolved.id}`);
      this.#add(this.#newRecord(resolved, 'starting'));
    }
    this.#done = quiet(
      new Promise<void>((resolve, reject) => {
        this.#settle = (err) => (err === undefined ? resolve() : reject(err));
      }),
    );
    this.#startup = quiet(
      new Promise<void>((resolve, reject) => {
        this.#startupDone = (err) => (err === undefined ? resolve() : reject(err));
      }),
    );
    this.#queue.enqueue(() => this.#startAll());
    queueMicrotask(() => this.#queue.start());
  }

  /** Subscribes to lifecycle events; returns a function that unsubscribes. */
  on<K extends keyof SupervisorEvents>(name: K, listener: Listener<SupervisorEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  off<K extends keyof SupervisorEvents>(name: K, listener: Listener<SupervisorEvents[K]>): void {
    this.#events.off(name, listener);
  }

  /**
   * Stops every child in reverse start order, then resolves `wait()` (or rejects, if it was
   * already dying of an error). Idempotent. Children are killed with a KilledError rather
   * than `reason`, as OTP stops them with `shutdown`: a child must see a clean request.
   */
  kill(_reason?: unknown): void {
    if (this.#dying) return;
    this.#dying = true;
    this.#clearTimer();
    // A start in progress is told at once through its signal; the shutdown waits for it.
    for (const record of this.#records) if (record.run?.pending !== undefined) this.#killRun(record, record.run);
    this.#queue.enqueue(() => this.#shutdown());
  }

  /** Resolves once stopped by `kill()` or auto shutdown; rejects with the error it died of. */
  wait(): Promise<void> {
    return this.#done;
  }

  /**
   * Resolves once the start sequence has started every child (each `start` settled and each
   * Worker's own `started()` resolved), as OTP's supervisor:start_link returns; rejects with
   * the error the supervisor died of if a child failed to start, or with a DeadError if it
   * was stopped before it finished starting. So `start: () => new Supervisor(...)` in a
   * parent is a failed start when this supervisor cannot start its own children.
   */
  started(): Promise<void> {
    return this.#startup;
  }

  /**
   * Adds and starts a child; settles once its start settled (a promise, and the Worker's
   * `started()`). Rejects with AlreadyExistsError, DeadError, or the start's own error, in
   * which case nothing was added. The supervisor handles nothing else meanwhile, as OTP's
   * start_child blocks the supervisor; only `kill()` cuts in (it aborts the start's signal).
   * The child goes last in start order, or just before the child `before` names (where a
   * reload puts a changed child back among its siblings).
   */
  startChild(spec: ChildSpec, placement: { before?: string } = {}): Promise<void> {
    return this.#queue.call(() => {
      this.#checkAlive(`start child ${spec?.id}`);
      const resolved = resolveSpec(spec, this.#autoShutdown);
      if (this.#byId.has(resolved.id)) {
        throw new AlreadyExistsError(`supervisor ${this.name}: child ${resolved.id} already exists`);
      }
      const failed = (record: ChildRecord, err: Error | undefined): void => {
        if (err === undefined) return;
        this.#remove(record, false);
        throw this.#dying ? new DeadError(`supervisor ${this.name} stopped while child ${resolved.id} was starting`, { cause: err }) : err;
      };
      const launch = (): void | Promise<void> => {
        this.#checkAlive(`start child ${resolved.id}`);
        const record = this.#newRecord(resolved, 'starting');
        this.#add(record, placement.before === undefined ? undefined : this.#get(placement.before));
        const out = this.#launch(record);
        return out instanceof Promise ? out.then((err) => failed(record, err)) : failed(record, out);
      };
      // A sibling whose start is still pending is not overtaken by a new child.
      const tail = this.#tail;
      return tail === undefined ? launch() : tail.then(launch);
    });
  }

  /** Stops a child and keeps its spec (state `stopped`); a temporary child is removed. */
  terminateChild(id: string): Promise<void> {
    return this.#queue.call(async () => {
      this.#checkAlive(`terminate child ${id}`);
      const record = this.#get(id);
      await this.#stopRun(record);
      if (record.spec.restart === 'temporary') this.#remove(record, true);
      else record.state = 'stopped';
      this.#armTimer();
    });
  }

  /**
   * Stops the child if it runs, then starts it again now (a waiting restart is cut short);
   * settles once the start settled, rejecting with its error (the child is then `stopped`).
   * Not counted in `restarts`.
   */
  restartChild(id: string): Promise<void> {
    return this.#queue.call(async () => {
      this.#checkAlive(`restart child ${id}`);
      const record = this.#get(id);
      await this.#stopRun(record);
      this.#checkAlive(`restart child ${id}`);
      record.state = 'stopped';
      // A restart by hand is a fresh start: the child's own limit and delays count from zero.
      record.window = record.spec.window?.();
      record.failures = 0;
      this.#armTimer();
      const err = await this.#launch(record);
      if (err === undefined) return;
      record.state = 'stopped';
      throw err;
    });
  }

  /** Stops the child if it runs, then removes its spec. */
  deleteChild(id: string): Promise<void> {
    return this.#queue.call(async () => {
      this.#checkAlive(`delete child ${id}`);
      const record = this.#get(id);
      await this.#stopRun(record);
      this.#remove(record, true);
      this.#armTimer();
    });
  }

  /** A snapshot of the children in start order. */
  children(): ChildInfo[] {
    return this.#records.map((r) => {
      const info: ChildInfo = { id: r.spec.id, state: r.state, restarts: r.restarts };
      if (r.lastError !== undefined) info.lastError = r.lastError;
      if (r.startedAt !== undefined) info.startedAt = r.startedAt;
      return info;
    });
  }

  /** Reporter: children() with messages for errors and each running child's own report(), so any tree can be shown. */
  report(): SupervisorReport {
    return {
      name: this.name,
      children: this.#records.map((r) => {
        const child: SupervisorReport['children'][number] = { id: r.spec.id, state: r.state, restarts: r.restarts };
        if (r.lastError !== undefined) child.lastError = r.lastError.message;
        if (r.startedAt !== undefined) child.startedAt = r.startedAt;
        const report = r.state === 'running' ? reportOf(r.run?.worker) : undefined;
        if (report !== undefined) child.report = report;
        return child;
      }),
    };
  }

  /** A bug in the supervisor itself must not vanish: die with it. */
  #internalError(err: unknown): void | Promise<void> {
    this.#log?.error({ supervisor: this.name, err }, 'supervisor internal error');
    return this.#die(toError(err), false);
  }

  // ---- starting ---------------------------------------------------------------------

  /**
   * The initial start sequence, in order: a pending start holds back the next sibling, and
   * with it everything else the supervisor would do (exits, commands), as OTP's init does.
   * The last child's pending start holds back no sibling, so the supervisor goes on while it
   * settles; `started()` waits for it all the same. A child that fails to start stops the
   * children already started and the supervisor dies with its error (OTP's failed init).
   * Synchronous while every start is.
   */
  #startAll(from = 0): void | Promise<void> {
    const records = this.#records;
    for (let i = from; i < records.length; i++) {
      if (this.#dying) return;
      const record = records[i]!;
      const out = this.#launch(record);
      if (out instanceof Promise) {
        if (i < records.length - 1) {
          return out.then((err) => (err === undefined ? this.#startAll(i + 1) : this.#startUpFailed(record, err)));
        }
        const run = record.run!;
        this.#detach(out, (err) => {
          // Killed by a sibling's group restart, it is that restart's business: start-up is over.
          if (err !== undefined && !run.killed) this.#queue.enqueue(() => this.#startUpFailed(record, err));
          else if (!this.#dying) this.#startupDone(undefined);
        });
        return;
      }
      if (out !== undefined) return this.#startUpFailed(record, out);
    }
    if (!this.#dying) this.#startupDone(undefined);
  }

  /**
   * Lets a pending start settle outside the queue. The last start of a sequence (`tail`)
   * is kept until it has, so that a child added by startChild never starts before it.
   */
  #detach(pending: Promise<Error | undefined>, settled: (err: Error | undefined) => void, tail = true): void {
    const done = pending.then(
      (err) => {
        if (this.#tail === done) this.#tail = undefined;
        settled(err);
      },
      (err: unknown) => this.#queue.enqueue(() => this.#internalError(err)),
    );
    if (tail) this.#tail = done;
  }

  #startUpFailed(record: ChildRecord, err: Error): void | Promise<void> {
    if (this.#dying) return; // killed meanwhile: the start failing is the kill's doing
    record.state = 'stopped';
    this.#log?.error({ supervisor: this.name, child: record.spec.id, err }, 'child failed to start; supervisor stops');
    return this.#die(err, false);
  }

  /**
   * Calls the child's `start`. Undefined: the child runs. An Error: it failed to start
   * (`start` threw, or returned something unusable). A promise (never rejected) while the
   * start is pending, settling with one of those two: a promise from `start`, or a Worker
   * with `started()`. Meanwhile the child is `starting` and `record.run.pending` is set.
   */
  #launch(record: ChildRecord, now = this.#clock.now()): Error | undefined | Promise<Error | undefined> {
    const abort = new AbortController();
    let result: Worker | Promise<Worker | void>;
    try {
      result = record.spec.start(abort.signal);
    } catch (err) {
      return toError(err);
    }
    const run = new ChildRun(record, abort, this.#exit);
    if (isWorker(result)) {
      if (typeof result.started !== 'function') {
        const reused = reusedWorker(record.spec.id, result, record.lastWorker);
        if (reused !== undefined) return reused;
        record.lastWorker = result;
        this.#running(record, run, now);
        run.watch(result);
        return undefined;
      }
    } else if (result === null || typeof (result as Promise<unknown>)?.then !== 'function') {
      return new TypeError(`child ${record.spec.id}: start must return a Worker or a Promise, got ${typeof result}`);
    }
    record.run = run;
    record.state = 'starting';
    const pending = run.begin(result).then((err) => this.#startSettled(run, err));
    run.pending = pending;
    return pending;
  }

  /** A pending start settled: the child runs, or its call ended as the work, or it failed to start. */
  #startSettled(run: ChildRun, err: Error | undefined): Error | undefined | Promise<Error | undefined> {
    run.pending = undefined;
    const record = run.record;
    if (err === undefined) {
      this.#running(record, run, this.#clock.now());
      if (run.ended) run.ok();
      else run.watch(run.worker!);
      return undefined;
    }
    const finish = (): Error => {
      run.exited = true;
      if (record.run === run) record.run = undefined;
      if (run.killed) {
        // Stopped while starting: nothing to decide; the stop that killed it carries on.
        record.state = 'stopped';
        this.#emitExited(record, isAbortLike(err, run.abort.signal) ? undefined : err, true);
      }
      return err;
    };
    // A failed start leaves nothing behind: a Worker that came but did not start is stopped.
    const worker = run.worker;
    return worker === undefined ? finish() : this.#reap(record, run, worker).then(finish);
  }

  /** Kills a Worker that failed to start and waits for it as its `shutdownMs` says. */
  #reap(record: ChildRecord, run: ChildRun, worker: Worker): Promise<void> {
    // Not run.kill(): `killed` means a stop the supervisor asked for, and this is a failure.
    const reason = new KilledError(`child ${record.spec.id} failed to start`);
    run.abort.abort(reason);
    try {
      worker.kill(reason);
    } catch (err) {
      this.#log?.error({ supervisor: this.name, child: record.spec.id, err }, 'child kill() threw');
    }
    const shutdown = shutdownOf(record.spec, worker);
    let done: Promise<void>;
    try {
      done = worker.wait();
    } catch {
      return Promise.resolve();
    }
    return within(done, shutdown, this.#clock).then((inTime) => {
      if (!inTime) this.#abandoned(record, shutdown);
    });
  }

  #running(record: ChildRecord, run: ChildRun, now: number): void {
    record.run = run;
    record.state = 'running';
    record.startedAt = record.lastAttemptAt = now;
    if (this.#events.has('childStarted')) {
      this.#events.emit('childStarted', { supervisor: this.name, id: record.spec.id, restarts: record.restarts });
    }
    this.#log?.debug({ supervisor: this.name, child: record.spec.id, restarts: record.restarts }, 'child started');
  }

  /**
   * one_for_one: restarts a child whose delay is over. A pending start holds back no
   * sibling, so it does not hold the supervisor: other exits, commands and kill() are
   * handled meanwhile. A start that fails is decided on like a crash.
   */
  #restartOne(record: ChildRecord, now: number): void {
    const out = this.#launch(record, now);
    if (out === undefined) return;
    if (!(out instanceof Promise)) return this.#restartFailed(record, out);
    this.#detachRestart(record, out, false);
  }

  /** A restart's pending start settles outside the queue; its failure, unless a stop killed it, is decided like a crash. */
  #detachRestart(record: ChildRecord, pending: Promise<Error | undefined>, tail = true): void {
    const run = record.run!;
    this.#detach(
      pending,
      (err) => {
        if (err !== undefined && !run.killed) this.#restartFailed(record, err);
      },
      tail,
    );
  }

  /** A one_for_one restart failed to start: decide on it like a crash, in the queue. */
  #restartFailed(record: ChildRecord, err: Error): void {
    record.lastError = err;
    record.lastAttemptAt = this.#clock.now(); // a failed start ran for no time: backoff keeps growing
    record.state = 'restarting';
    record.dueAt = Infinity;
    this.#emitExited(record, err, false);
    this.#queue.enqueue(() => {
      const current = this.#byId.get(record.spec.id) === record && record.state === 'restarting' && record.dueAt === Infinity;
      if (this.#dying || !current) return;
      return this.#decide(record, err);
    });
  }

  /**
   * one_for_all / rest_for_one: starts the children waiting to restart in order, each once
   * it is due, a pending start holding back the next (start_link). At the first that fails
   * to start it stops, as OTP does, and decides on that child like a crash: the group
   * restarts from it, so no child starts while one before it is down. The last one's
   * pending start holds back no sibling and settles outside the queue.
   */
  #restartInOrder(): void | Promise<void> {
    const records = this.#records;
    for (let i = 0; i < records.length; i++) {
      if (this.#dying) return;
      const record = records[i]!;
      if (record.state !== 'restarting') continue;
      const now = this.#clock.now();
      if (record.dueAt > now) break;
      const out = this.#launch(record, now);
      if (out instanceof Promise) {
        if (records.some((r, j) => j > i && r.state === 'restarting')) {
          return out.then((err) => (err === undefined ? this.#restartInOrder() : this.#groupStartFailed(record, err)));
        }
        this.#detachRestart(record, out);
        break;
      }
      if (out !== undefined) return this.#groupStartFailed(record, out);
    }
    this.#armTimer();
  }

  #groupStartFailed(record: ChildRecord, err: Error): void | Promise<void> {
    if (this.#dying) return;
    record.run = undefined;
    record.state = 'restarting';
    record.lastError = err;
    record.lastAttemptAt = this.#clock.now();
    this.#emitExited(record, err, false);
    return this.#decide(record, err);
  }

  /** Starts the restarting children that are due (see #restartOne, #restartInOrder), then re-arms the timer. */
  readonly #startDue = (): void | Promise<void> => {
    if (this.#dying) return;
    if (this.#strategy !== 'one_for_one') return this.#restartInOrder();
    const now = this.#clock.now();
    for (const record of this.#records) {
      if (record.state === 'restarting' && record.dueAt <= now) this.#restartOne(record, now);
    }
    this.#armTimer();
  };

  // ---- exits and restart decisions ----------------------------------------------------

  #onExit(run: ChildRun, err: unknown, failed: boolean): void {
    if (run.exited) return;
    run.exited = true;
    const record = run.record;
    const error = failed && !(run.killed && isAbortLike(err, run.abort.signal)) ? toError(err) : undefined;
    if (error !== undefined) record.lastError = error;
    this.#emitExited(record, error, run.killed);
    if (run.killed) {
      run.onStopped?.();
      return;
    }
    // Work the run left behind listening on its signal (sleeps, requests, child processes)
    // must not outlive it. A signal nothing listens to is left alone: aborting dispatches an
    // event, which would be a third of what a restart costs.
    if (getEventListeners(run.abort.signal, 'abort').length > 0) run.abort.abort(RUN_ENDED);
    if (record.run !== run) return;
    if (this.#dying) {
      record.run = undefined;
      record.state = 'stopped';
      return;
    }
    if (!this.#queue.tryEnter()) {
      this.#queue.enqueue(() => this.#handleExit(run, error));
      return;
    }
    let result: void | Promise<void>;
    try {
      result = this.#handleExit(run, error);
    } catch (e) {
      result = this.#internalError(e);
    }
    this.#queue.leave(result);
  }

  #emitExited(record: ChildRecord, error: Error | undefined, killed: boolean): void {
    if (this.#events.has('childExited')) {
      this.#events.emit('childExited', { supervisor: this.name, id: record.spec.id, error, killed });
    }
    if (this.#log !== undefined) {
      const fields = { supervisor: this.name, child: record.spec.id, err: error, killed };
      if (error !== undefined) this.#log.warn(fields, 'child exited with error');
      else this.#log.debug(fields, 'child exited');
    }
  }

  #handleExit(run: ChildRun, error: Error | undefined): void | Promise<void> {
    const record = run.record;
    if (this.#dying || record.run !== run) return;
    record.run = undefined;
    return this.#decide(record, error);
  }

  /** What OTP does with an exit: fatal, remove, give up, or restart by strategy. */
  #decide(record: ChildRecord, error: Error | undefined): void | Promise<void> {
    if (error !== undefined && (error instanceof ReusedWorkerError || this.#isFatal(error))) return this.#die(error, false);
    const { restart } = record.spec;
    if (restart === 'temporary' || (restart === 'transient' && error === undefined)) {
      this.#remove(record, true);
      return record.spec.significant ? this.#autoShutdownCheck(record) : undefined;
    }
    if (restart === 'transient' && error !== undefined && gaveUp(error)) {
      // A tree that gave up ends as OTP's supervisor does, with reason `shutdown`: a transient
      // child is not restarted. Like a child past its own limit it stays in children() as
      // `failed`, its lastError the RestartIntensityError, so that its parent can show it
      // failed and restartChild can start it again.
      record.state = 'failed';
      record.dueAt = Infinity;
      if (this.#events.has('childFailed')) this.#events.emit('childFailed', { supervisor: this.name, id: record.spec.id, error });
      this.#log?.warn({ supervisor: this.name, child: record.spec.id, err: error }, 'child tree gave up; transient: not restarted');
      return record.spec.significant ? this.#autoShutdownCheck(record) : undefined;
    }
    const now = this.#clock.now();
    if (record.window !== undefined && !record.window.add(now)) return this.#childGivesUp(record, error);
    if (!this.#window.add(now)) {
      const message =
        `supervisor "${this.name}" gave up: more than ${this.#window.intensity} restarts in ${this.#window.periodMs} ms ` +
        `(last: child ${record.spec.id}${error === undefined ? ' stopped' : ` failed: ${error.message}`})`;
      return this.#die(new RestartIntensityError(message, { cause: error }), true);
    }
    const ran = now - record.lastAttemptAt;
    const backoff = record.spec.backoff ?? this.#backoff;
    record.failures = nextFailure(backoff, record.failures, ran);
    const delayMs = Math.round(backoffDelay(backoff, record.failures, this.#random));
    record.restarts++;
    if (this.#events.has('childRestarting')) {
      this.#events.emit('childRestarting', { supervisor: this.name, id: record.spec.id, delayMs, restarts: record.restarts, error });
    }
    this.#log?.info({ supervisor: this.name, child: record.spec.id, delayMs, restarts: record.restarts }, 'child restarting');
    if (this.#strategy === 'one_for_one') {
      if (delayMs === 0) return this.#restartOne(record, now);
      record.state = 'restarting';
      record.dueAt = now + delayMs;
      this.#armTimer();
      return;
    }
    return this.#restartGroup(record, now + delayMs);
  }

  /** The child passed its own restart limit: it alone stays down, as `failed`; nobody else is touched. */
  #childGivesUp(record: ChildRecord, error: Error | undefined): void | Promise<void> {
    const w = record.window!;
    const message =
      `child ${record.spec.id} of supervisor "${this.name}" gave up: more than ${w.intensity} restarts in ${w.periodMs} ms ` +
      `(last: ${error === undefined ? 'stopped' : `failed: ${error.message}`})`;
    const err = new RestartIntensityError(message, { cause: error });
    record.state = 'failed';
    record.lastError = err;
    record.dueAt = Infinity;
    if (this.#events.has('childFailed')) this.#events.emit('childFailed', { supervisor: this.name, id: record.spec.id, error: err });
    this.#log?.error({ supervisor: this.name, child: record.spec.id, err }, 'child passed its restart limit; not restarted');
    return record.spec.significant ? this.#autoShutdownCheck(record) : undefined;
  }

  /** one_for_all / rest_for_one: stop the others in reverse order, then restart them all in order at `dueAt`. */
  #restartGroup(crashed: ChildRecord, dueAt: number): void | Promise<void> {
    crashed.state = 'restarting';
    crashed.dueAt = dueAt;
    const from = this.#strategy === 'one_for_all' ? 0 : this.#records.indexOf(crashed);
    const group = this.#records.slice(from).filter((r) => r !== crashed && r.state !== 'stopped' && r.state !== 'failed');
    const finish = (): void | Promise<void> => {
      if (this.#dying) return;
      for (const r of group) {
        if (r.spec.restart === 'temporary') {
          this.#remove(r, true);
          continue;
        }
        if (r.state !== 'restarting') r.restarts++;
        r.dueAt = r.state === 'restarting' ? Math.max(r.dueAt, dueAt) : dueAt;
        r.state = 'restarting';
      }
      if (dueAt <= this.#clock.now()) return this.#startDue();
      this.#armTimer();
    };
    const running = group.filter((r) => r.run !== undefined);
    if (running.length === 0) return finish();
    return (async () => {
      for (let i = running.length - 1; i >= 0; i--) await this.#stopRun(running[i]!);
      await finish();
    })();
  }

  // ---- stopping ---------------------------------------------------------------------

  /**
   * Kills the child's current run and waits for it as its `shutdownMs` says. A start still
   * pending has its signal aborted and is waited for until it settles, however long (as OTP
   * waits for start_link); then the Worker it brought, if any, is stopped.
   */
  #stopRun(record: ChildRecord): void | Promise<void> {
    const run = record.run;
    if (record.state === 'restarting') record.state = 'stopped';
    if (run === undefined) return;
    if (run.pending !== undefined) {
      record.state = 'stopping';
      this.#killRun(record, run);
      return run.pending.then(() => this.#stopRun(record));
    }
    record.run = undefined;
    record.state = 'stopping';
    this.#killRun(record, run);
    const shutdown = shutdownOf(record.spec, run.worker);
    const stopped = run.exitWithin(shutdown, this.#clock);
    if (stopped === undefined) {
      record.state = 'stopped';
      return;
    }
    return stopped.then((inTime) => {
      record.state = 'stopped';
      if (!inTime) this.#abandoned(record, shutdown);
    });
  }

  #killRun(record: ChildRecord, run: ChildRun): void {
    const killError = run.kill(new KilledError(`stopped by supervisor ${this.name}`));
    if (killError !== undefined) this.#log?.error({ supervisor: this.name, child: record.spec.id, err: killError }, 'child kill() threw');
  }

  #abandoned(record: ChildRecord, shutdown: ShutdownMs): void {
    this.#log?.error(
      { supervisor: this.name, child: record.spec.id, shutdownMs: shutdown },
      `child did not stop within ${String(shutdown)} ms; abandoned`,
    );
    if (this.#events.has('childAbandoned')) {
      this.#events.emit('childAbandoned', { supervisor: this.name, id: record.spec.id, shutdownMs: shutdown });
    }
  }

  /** Dies with `error` (the first one recorded wins): stop everything, then reject `wait()`. */
  #die(error: Error, gaveUp: boolean): void | Promise<void> {
    if (this.#error === undefined) this.#error = error;
    if (this.#events.has('gaveUp')) this.#events.emit('gaveUp', { supervisor: this.name, error });
    this.#log?.error({ supervisor: this.name, err: error }, gaveUp ? 'supervisor gave up' : 'supervisor dying');
    this.#dying = true;
    this.#clearTimer();
    return this.#shutdown();
  }

  #autoShutdownCheck(record: ChildRecord): void | Promise<void> {
    const stop =
      this.#autoShutdown === 'any_significant' ||
      (this.#autoShutdown === 'all_significant' &&
        !this.#records.some((r) => r.spec.significant && r.state !== 'stopped' && r.state !== 'failed'));
    if (!stop) return;
    this.#log?.info({ supervisor: this.name, child: record.spec.id }, 'significant child exited; supervisor shuts down');
    this.#dying = true;
    this.#clearTimer();
    return this.#shutdown();
  }

  #shutdown(): void | Promise<void> {
    if (this.#shutdownStarted) return;
    this.#shutdownStarted = true;
    return (async () => {
      for (let i = this.#records.length - 1; i >= 0; i--) {
        const record = this.#records[i]!;
        await this.#stopRun(record);
        record.state = 'stopped';
      }
      this.#clearTimer();
      this.#stopped = true;
      // Settles started() if the start sequence never finished (a second settle is a no-op).
      this.#startupDone(this.#error ?? new DeadError(`supervisor ${this.name} was stopped before it finished starting`));
      this.#settle(this.#error);
    })();
  }

  // ---- bookkeeping ------------------------------------------------------------------

  #armTimer(): void {
    let due = Infinity;
    for (const r of this.#records) if (r.state === 'restarting' && r.dueAt < due) due = r.dueAt;
    if (due === this.#timerDue) return;
    this.#clearTimer();
    if (due === Infinity || this.#dying) return;
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout(this.#onTimer, due - this.#clock.now());
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    this.#queue.enqueue(this.#startDue);
  };

  #clearTimer(): void {
    this.#timer?.clear();
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  #newRecord(spec: ResolvedSpec, state: ChildState): ChildRecord {
    return {
      spec,
      state,
      restarts: 0,
      lastError: undefined,
      startedAt: undefined,
      lastAttemptAt: 0,
      run: undefined,
      failures: 0,
      dueAt: Infinity,
      window: spec.window?.(),
    };
  }

  #add(record: ChildRecord, before?: ChildRecord): void {
    const at = before === undefined ? -1 : this.#records.indexOf(before);
    if (at < 0) this.#records.push(record);
    else this.#records.splice(at, 0, record);
    this.#byId.set(record.spec.id, record);
  }

  #remove(record: ChildRecord, announce: boolean): void {
    record.state = 'stopped';
    const i = this.#records.indexOf(record);
    if (i >= 0) this.#records.splice(i, 1);
    if (this.#byId.get(record.spec.id) === record) this.#byId.delete(record.spec.id);
    if (announce && this.#events.has('childRemoved')) this.#events.emit('childRemoved', { supervisor: this.name, id: record.spec.id });
  }

  #get(id: string): ChildRecord {
    const record = this.#byId.get(id);
    if (record === undefined) throw new NotFoundError(`supervisor ${this.name}: no child ${id}`);
    return record;
  }

  #checkAlive(what: string): void {
    if (this.#dying) {
      throw new DeadError(`supervisor ${this.name} is ${this.#stopped ? 'stopped' : 'stopping'}; cannot ${what}`);
    }
  }
}

/** A child that is a tree and gave up (its restart intensity was exceeded): OTP's exit reason `shutdown`. */
function gaveUp(error: Error): boolean {
  return error instanceof RestartIntensityError || (error as { code?: unknown }).code === 'ERR_RESTART_INTENSITY';
}

// ProcessPool: runs an ES module's exported functions in `size` child processes (procrastinate's
// manager, piscina's API). Calls queue in order and are pipelined to the least busy child, so
// each child always has the next call at hand; results, errors (class name, message, stack, own
// properties) and send() messages come back by structured clone. A child that dies during a call
// rejects that call with ChildDeathError and is replaced; calls it had not started go to another
// child. An aborted or timed-out call kills its child and every process it started. An error
// a child's code throws after its call returned (or a rejection it left unhandled) is reported
// to the logger and the 'error' event and fails no call; that child is replaced once idle.
// Every child is reaped before close() or destroy() settles. The pool is a Worker: kill()
// destroys it, wait() settles when it is gone.

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { BosunError, DeadError, TimeoutError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Reporter } from '../core/reporter.js';
import { quiet, type Worker } from '../core/worker.js';
import { Fifo } from '../core/fifo.js';
import { ChildDeathError, QueueFullError } from './errors.js';
import {
  ERROR,
  LOCAL_ERROR,
  PoolChild,
  RESULT,
  SKIPPED,
  type ChildEvents,
  type PoolCall,
  type SpawnSpec,
  type StrayKind,
} from './pool-child.js';
import { decodeError, type ErrorRecord } from './remote-error.js';
import { listProcesses } from './tree.js';

export { PoolArgumentError } from './pool-child.js';

export interface PoolOptions {
  /** Absolute path or file: URL of the ES module whose exported functions run(name) calls. */
  module: string | URL;
  /** Child processes. Default: os.availableParallelism(). */
  size?: number;
  /**
   * Calls allowed to wait for a child, counting those pipelined to a busy child; run() rejects
   * with QueueFullError beyond it. Default: unbounded.
   */
  maxQueue?: number;
  /** Default timeout of a call, from when its child starts it. Default: none. */
  taskTimeoutMs?: number;
  /** Replace a child after it ran this many calls. Default: never. */
  recycleAfter?: number;
  /** Calls sent ahead to each child. Default 16. 1 disables pipelining. */
  pipeline?: number;
  /** Node flags for the children. Default: this process's, minus --test and --inspect ones. */
  execArgv?: string[];
  /** The children's environment. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** close() waits this long for a child to exit after its channel closed, then kills it. Default 5000. */
  closeGraceMs?: number;
  clock?: Clock;
  /** Where errors a child's code throws outside any call are logged (error level). Default: dropped. */
  logger?: Logger;
}

export interface CloseOptions {
  /** Calls still running after this long are ended by destroy() (they reject with TimeoutError). Default: no limit. */
  timeoutMs?: number;
}

/** An error a child's code threw outside any call (after its call returned), or a rejection it left unhandled. */
export interface PoolErrorEvent {
  /** The child's pid; the child takes no more calls and is replaced once the calls it holds are done. */
  pid: number | undefined;
  kind: StrayKind;
  /** What was thrown, rebuilt as for a call's error. */
  error: unknown;
}

export interface PoolEvents {
  error: PoolErrorEvent;
}

/** What `report()` gives: `stats()` and each child's pid and unanswered calls. */
export interface PoolReport extends PoolStats {
  state: 'open' | 'closing' | 'destroyed' | 'failed';
  module: string;
  workers: { pid: number | undefined; calls: number; ready: boolean }[];
}

/** A module's exported functions by name: what `ProcessPool<typeof import('./tasks.js')>` can run. */
export type PoolFunctions<M> = {
  [K in keyof M as M[K] extends (...args: never[]) => unknown ? (K extends string ? K : never) : never]: M[K];
};

/** A pool made without a module type: run() takes any name and resolves to the type it is given (default unknown). */
export interface UntypedModule {
  readonly __untypedPoolModule: unique symbol;
}

/** run()'s arguments after the name: `args` may be left out for a function that takes none. */
type RunRest<A, Msg> = [] extends A ? [args?: Readonly<A>, options?: RunOptions<Msg>] : [args: Readonly<A>, options?: RunOptions<Msg>];

type Fn<M, K extends keyof PoolFunctions<M>> = PoolFunctions<M>[K] extends (...args: infer A) => infer R
  ? { args: A; result: Awaited<R> }
  : never;

export interface RunOptions<M = unknown> {
  /** Receives every send() the function makes, in order, before the call settles. */
  onMessage?: (message: M) => void;
  /** Aborting removes a waiting call, or kills the child running it; the call rejects with the reason. */
  signal?: AbortSignal;
  /** Overrides taskTimeoutMs for this call. */
  timeoutMs?: number;
}

export interface PoolStats {
  size: number;
  /** Child processes alive now. */
  children: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  /** Children started to replace one that died, was killed or was recycled. */
  restarts: number;
}

/** The pool's module could not be loaded in a child; `cause` is the child's error. */
export class PoolModuleError extends BosunError {
  constructor(module: string, cause: unknown) {
    super('ERR_POOL_MODULE', `pool module ${module} failed to load in a child: ${String((cause as Error)?.message ?? cause)}`, { cause });
  }
}

const RUNTIME = fileURLToPath(new URL('./child-runtime.js', import.meta.url));
const EARLY_DEATHS_LIMIT = 3;

/**
 * `new ProcessPool<typeof import('./tasks.js')>({ module })` types run(): names are the module's
 * exported functions, args their parameters, the result their (awaited) return type. Without a
 * type argument, run() takes any name and its result type is the generic given (default unknown).
 */
export class ProcessPool<M extends object = UntypedModule> implements Worker, Reporter {
  readonly #size: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number | undefined;
  readonly #recycleAfter: number;
  readonly #pipeline: number;
  readonly #closeGraceMs: number;
  readonly #clock: Clock;
  readonly #spec: SpawnSpec;
  readonly #children = new Set<PoolChild>();
  // The wait queue (core's Fifo), so 10,000 queued calls cost no shifting. Settled calls stay
  // in it until they reach its head; `#queued` counts the others.
  readonly #queue = new Fifo<PoolCall>();
  #queued = 0;
  #nextId = 1;
  #state: 'open' | 'closing' | 'destroyed' | 'failed' = 'open';
  #err: Error | undefined;
  #earlyDeaths = 0;
  #stats = { completed: 0, failed: 0, restarts: 0 };
  #settleDone!: () => void;
  readonly #done: Promise<void>;
  readonly #events: ChildEvents;
  readonly #emitter: Emitter<PoolEvents>;
  readonly #logger: Logger;
  /** One 'abort' listener per signal, however many calls share it (no MaxListeners warning). */
  readonly #bySignal = new WeakMap<AbortSignal, { calls: Set<PoolCall>; onAbort: () => void }>();
  #closeTimer: TimerHandle | undefined;

  constructor(options: PoolOptions) {
    const mod = options.module instanceof URL ? options.module.href : options.module;
    this.#size = Math.max(1, options.size ?? availableParallelism());
    this.#maxQueue = options.maxQueue ?? Infinity;
    this.#timeoutMs = options.taskTimeoutMs;
    this.#recycleAfter = options.recycleAfter ?? Infinity;
    this.#pipeline = Math.max(1, options.pipeline ?? 16);
    this.#closeGraceMs = options.closeGraceMs ?? 5000;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#emitter = new Emitter<PoolEvents>((err) => this.#logger.error({ err }, 'a ProcessPool error listener threw'));
    this.#spec = {
      runtime: RUNTIME,
      module: mod,
      execArgv: options.execArgv ?? process.execArgv.filter((a) => !/^--(test|inspect|experimental-test)/.test(a)),
      env: options.env,
    };
    this.#done = quiet(
      new Promise<void>((resolve) => (this.#settleDone = resolve)).then(() => {
        if (this.#err !== undefined) throw this.#err;
      }),
    );
    this.#events = {
      reply: (child, call, kind, payload) => this.#onReply(child, call, kind, payload),
      message: (_child, call, payload) => this.#onMessage(call, payload),
      idle: (child) => this.#onIdle(child),
      ready: (child) => {
        this.#earlyDeaths = 0;
        // Its first call starts now: the module has loaded.
        const first = child.inflight[0];
        if (first !== undefined) this.#startClock(first);
      },
      initError: (_child, error) => this.#fail(new PoolModuleError(mod, decodeError(error))),
      stray: (child, kind, error) => this.#onStray(child, kind, error),
      exit: (child, code, signal) => this.#onExit(child, code, signal),
    };
    for (let i = 0; i < this.#size; i++) this.#spawn();
  }

  /** Calls the module's export `name` with `args` in a child; settles with its result or error. */
  run<T = unknown, Msg = unknown>(
    name: M extends UntypedModule ? string : never,
    args?: readonly unknown[],
    options?: RunOptions<Msg>,
  ): Promise<T>;
  run<K extends keyof PoolFunctions<M>, Msg = unknown>(name: K, ...rest: RunRest<Fn<M, K>['args'], Msg>): Promise<Fn<M, K>['result']>;
  run(name: string, args: readonly unknown[] = [], options: RunOptions<unknown> = {}): Promise<unknown> {
    if (this.#state !== 'open') return Promise.reject(this.#err ?? new DeadError('the pool is closed; run() needs an open pool'));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#maxQueue !== Infinity && this.#waiting() >= this.#maxQueue && !this.#hasIdleChild()) {
      return Promise.reject(new QueueFullError(`pool queue is full (maxQueue ${this.#maxQueue}); retry later or raise maxQueue`));
    }
    return new Promise<unknown>((resolve, reject) => {
      const call: PoolCall = {
        id: this.#nextId++,
        name,
        args: args as unknown[],
        timeoutMs: options.timeoutMs ?? this.#timeoutMs,
        onMessage: options.onMessage,
        signal,
        resolve,
        reject,
        settled: false,
        child: undefined,
        timer: undefined,
      };
      if (signal !== undefined) this.#watch(signal, call);
      this.#queue.push(call);
      this.#queued++;
      this.#pump();
    });
  }

  /**
   * Lets queued and running calls finish, then stops every child; settles once all are reaped.
   * With `timeoutMs`, whatever is still queued or running then is ended by destroy(): those calls
   * reject with TimeoutError.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#state === 'open') {
      this.#state = 'closing';
      this.#pump();
      this.#maybeFinish();
    }
    const ms = options.timeoutMs;
    if (ms !== undefined && this.#state === 'closing' && this.#closeTimer === undefined) {
      this.#closeTimer = this.#clock.setTimeout(() => {
        this.#closeTimer = undefined;
        void this.destroy(new TimeoutError(`the pool did not close within ${ms} ms; calls still running were ended by destroy()`));
      }, ms);
    }
    return this.#done.catch(() => {});
  }

  /** Subscribes to pool events ('error': a child's code threw outside any call); returns an unsubscribe function. */
  on<K extends keyof PoolEvents>(name: K, listener: (event: PoolEvents[K]) => void): () => void {
    return this.#emitter.on(name, listener);
  }

  /** Rejects queued and running calls, kills every child; settles once all are reaped. */
  destroy(reason?: Error): Promise<void> {
    if (this.#state === 'open' || this.#state === 'closing') {
      this.#state = 'destroyed';
      const err = reason ?? new DeadError('the pool was destroyed');
      this.#rejectAll(err);
      this.#killAll();
      this.#maybeFinish();
    }
    return this.#done.catch(() => {});
  }

  /** Worker: kill() destroys the pool (calls reject with DeadError). */
  kill(): void {
    void this.destroy();
  }

  /** Worker: resolves once the pool closed or was destroyed and every child is reaped; rejects if its module failed to load. */
  wait(): Promise<void> {
    return this.#done;
  }

  stats(): PoolStats {
    let running = 0;
    for (const c of this.#children) for (const call of c.inflight) if (!call.settled) running++;
    return { size: this.#size, children: this.#children.size, queued: this.#queued, running, ...this.#stats };
  }

  /** Reporter: stats(), the pool's state and module, and each child's pid and unanswered calls. */
  report(): PoolReport {
    const workers = [...this.#children].map((c) => ({
      pid: c.pid,
      calls: c.inflight.filter((call) => !call.settled).length,
      ready: c.ready,
    }));
    return { ...this.stats(), state: this.#state, module: this.#spec.module, workers };
  }

  #watch(signal: AbortSignal, call: PoolCall): void {
    let entry = this.#bySignal.get(signal);
    if (entry === undefined) {
      const calls = new Set<PoolCall>();
      const onAbort = () => {
        this.#bySignal.delete(signal);
        for (const c of calls) this.#abort(c, signal.reason);
      };
      entry = { calls, onAbort };
      this.#bySignal.set(signal, entry);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    entry.calls.add(call);
  }

  #unwatch(call: PoolCall): void {
    const signal = call.signal!;
    const entry = this.#bySignal.get(signal);
    if (entry === undefined || !entry.calls.delete(call) || entry.calls.size > 0) return;
    this.#bySignal.delete(signal);
    signal.removeEventListener('abort', entry.onAbort);
  }

  #killAll(): void {
    const all = listProcesses(); // one /proc scan for every child's descendants
    for (const c of this.#children) c.kill(all);
  }

  /** A child's code threw outside any call: report it, fail nothing, replace the child once idle. */
  #onStray(child: PoolChild, kind: StrayKind, record: ErrorRecord): void {
    const error = decodeError(record);
    const what = kind === 'unhandledRejection' ? 'left a promise rejection unhandled' : 'threw outside any call';
    this.#logger.error(
      { pid: child.pid, kind, err: error },
      `pool child ${child.pid}: code in ${this.#spec.module} ${what}; the child is replaced once idle`,
    );
    this.#emitter.emit('error', { pid: child.pid, kind, error });
    if (child.retiring) return;
    child.retiring = true;
    child.replaceWhenIdle = true;
    this.#onIdle(child);
  }

  /** A child with nothing to do would start a new call at once, so that call does not wait. */
  #hasIdleChild(): boolean {
    for (const c of this.#children) if (!c.retiring && c.inflight.length === 0) return true;
    return false;
  }

  /**
   * Calls waiting to run: those in the pool's queue and those pipelined to a child behind the
   * call it is running. `maxQueue` bounds them all, so pipelining never lets more wait.
   */
  #waiting(): number {
    let waiting = this.#queued;
    for (const c of this.#children) {
      let unsettled = 0;
      for (const call of c.inflight) if (!call.settled) unsettled++;
      if (unsettled > 1) waiting += unsettled - 1;
    }
    return waiting;
  }

  #spawn(): void {
    this.#children.add(new PoolChild(this.#spec, this.#events));
  }

  /** Gives waiting calls to the least busy children, up to `pipeline` each. */
  #pump(): void {
    while (this.#queued > 0) {
      let best: PoolChild | undefined;
      for (const c of this.#children) {
        if (c.retiring || c.inflight.length >= this.#pipeline) continue;
        if (best === undefined || c.inflight.length < best.inflight.length) best = c;
      }
      if (best === undefined) return;
      const call = this.#dequeue()!;
      best.dispatch(call);
      if (best.inflight.length === 1 && best.ready) this.#startClock(call);
      if (best.assigned >= this.#recycleAfter) best.retiring = true;
    }
  }

  #dequeue(): PoolCall | undefined {
    for (let call = this.#queue.shift(); call !== undefined; call = this.#queue.shift()) {
      if (call.settled) continue;
      this.#queued--;
      return call;
    }
    return undefined;
  }

  /**
   * A call's timeout runs from when it starts running: when it becomes its child's oldest
   * unanswered call, and not before that child has loaded the module (a replacement child's
   * start-up is not the call's time).
   */
  #startClock(call: PoolCall): void {
    if (call.timeoutMs === undefined || call.settled || call.timer !== undefined) return;
    const ms = call.timeoutMs;
    call.timer = this.#clock.setTimeout(() => {
      call.timer = undefined;
      if (call.settled) return;
      this.#settle(call, false, new TimeoutError(`pool call ${call.name} took longer than ${ms} ms; its child was killed`));
      this.#killForRunning(call);
    }, ms);
  }

  #abort(call: PoolCall, reason: unknown): void {
    if (call.settled) return;
    const child = call.child;
    if (child === undefined) this.#queued--; // still waiting: the queue skips settled calls
    this.#settle(call, false, reason);
    if (child === undefined) return;
    if (child.inflight[0] === call) this.#killForRunning(call);
    else child.cancel(call.id);
  }

  /**
   * Kills the child running `call`, which is already settled. The calls pipelined behind it
   * never started, so its exit sends them to another child rather than failing one of them.
   */
  #killForRunning(call: PoolCall): void {
    const child = call.child;
    if (child === undefined) return;
    child.runningSettled = true;
    child.kill();
  }

  #settle(call: PoolCall, ok: boolean, value: unknown): void {
    if (call.settled) return;
    call.settled = true;
    call.timer?.clear();
    call.timer = undefined;
    if (call.signal !== undefined) this.#unwatch(call);
    if (ok) {
      this.#stats.completed++;
      call.resolve(value);
    } else {
      this.#stats.failed++;
      call.reject(value);
    }
  }

  #onReply(child: PoolChild, call: PoolCall, kind: number, payload: unknown): void {
    if (kind === RESULT) this.#settle(call, true, payload);
    else if (kind === ERROR) this.#settle(call, false, decodeError(payload as ErrorRecord));
    else if (kind === SKIPPED) this.#settle(call, false, new DeadError('call skipped'));
    else if (kind === LOCAL_ERROR) this.#settle(call, false, payload);
    const next = child.inflight[0];
    if (next !== undefined) this.#startClock(next);
  }

  #onMessage(call: PoolCall, payload: unknown): void {
    if (call.settled || call.onMessage === undefined) return;
    try {
      call.onMessage(payload);
    } catch (err) {
      this.#settle(call, false, err);
    }
  }

  #onIdle(child: PoolChild): void {
    if (child.retiring && child.inflight.length === 0 && !child.exited && child.proc.connected) {
      child.disconnect();
      this.#armCloseGrace(child);
      if (this.#state === 'open' && (child.assigned >= this.#recycleAfter || child.replaceWhenIdle)) {
        this.#stats.restarts++;
        this.#spawn();
      }
    }
    this.#pump();
    this.#maybeFinish();
  }

  #onExit(child: PoolChild, code: number | null, signal: NodeJS.Signals | null): void {
    this.#children.delete(child);
    const calls = child.inflight.splice(0);
    const running = child.runningSettled ? undefined : calls.find((c) => !c.settled);
    // The oldest unanswered call was running; the rest never started and go back to the queue front.
    const requeue: PoolCall[] = [];
    for (const call of calls) {
      if (call.settled) continue;
      if (call === running && child.ready) this.#settle(call, false, new ChildDeathError(code, signal));
      else {
        call.child = undefined;
        call.timer?.clear();
        call.timer = undefined;
        requeue.push(call);
      }
    }
    if (!child.ready && !child.stopRequested) this.#earlyDeaths++;
    if (requeue.length > 0) {
      this.#queue.unshift(...requeue);
      this.#queued += requeue.length;
    }
    if (this.#earlyDeaths >= EARLY_DEATHS_LIMIT && this.#state !== 'destroyed' && this.#err === undefined) {
      this.#fail(
        new ChildDeathError(code, signal, `pool children exit before loading ${this.#spec.module} (code ${code}, signal ${signal})`),
      );
    }
    const recycled = (child.assigned >= this.#recycleAfter || child.replaceWhenIdle) && requeue.length === 0 && running === undefined;
    const wanted = this.#state === 'open' || (this.#state === 'closing' && this.#queued > 0);
    if (wanted && !recycled && this.#children.size < this.#size) {
      this.#stats.restarts++;
      this.#spawn();
    }
    this.#pump();
    this.#maybeFinish();
  }

  #armCloseGrace(child: PoolChild): void {
    const timer = this.#clock.setTimeout(() => child.kill(), this.#closeGraceMs);
    child.proc.once('exit', () => timer.clear());
  }

  /** The module cannot load: every call fails with that error and the pool stops. */
  #fail(err: Error): void {
    if (this.#state === 'destroyed' || this.#state === 'failed') return;
    this.#state = 'failed';
    this.#err = err;
    this.#rejectAll(err);
    this.#killAll();
    this.#maybeFinish();
  }

  #rejectAll(err: unknown): void {
    for (let call = this.#dequeue(); call !== undefined; call = this.#dequeue()) this.#settle(call, false, err);
    for (const c of this.#children) for (const call of c.inflight) this.#settle(call, false, err);
  }

  /** Closing with nothing left to run: stop idle children; settle once none is left. */
  #maybeFinish(): void {
    if (this.#state === 'open') return;
    if (this.#state === 'closing' && this.#queued === 0) {
      for (const c of this.#children) {
        if (c.inflight.length === 0 && !c.exited && c.proc.connected) {
          c.disconnect();
          this.#armCloseGrace(c);
        }
      }
    }
    if (this.#children.size === 0) {
      this.#closeTimer?.clear();
      this.#closeTimer = undefined;
      this.#settleDone();
    }
  }
}

// The dependency engine: named manifolds, each started as soon as every input it names is
// running, stopped (dependents first) whenever one of those inputs stops or restarts, and
// restarted with backoff after errors. The engine is itself a Worker, so engines nest.

import type { Clock, TimerHandle } from '../core/clock.js';
import { AlreadyExistsError, DeadError, KilledError, isAbortLike, toError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { quiet, type Worker } from '../core/worker.js';
import { reportOf, type Reporter } from '../core/reporter.js';
import { Attempt } from './attempt.js';
import { backoffDelay, jittered, nextFailure, type ResolvedBackoff } from '../core/backoff.js';
import { BounceError, MissingError, NoOutputError, UndeclaredInputError, UninstallError } from './errors.js';
import { DependencyGraph } from './graph.js';
import type { EngineReport, Manifold, ManifoldReport, ManifoldState, StartContext } from './manifold.js';
import { resolveEngineOptions, type EngineOptions } from './options.js';

interface Node {
  readonly name: string;
  readonly manifold: Manifold;
  readonly inputs: readonly string[];
  status: ManifoldState;
  /** The current start attempt; its signal is the start context's signal. */
  attempt?: Attempt;
  /** Pending delay before `start` is called ('starting' only). */
  timer?: TimerHandle;
  worker?: Worker;
  startedAt: number;
  startCount: number;
  /** Consecutive errors, for backoff. */
  failures: number;
  lastError?: Error;
  /** Stopped after a MissingError or a clean exit: start again only when an input changes. */
  blocked: boolean;
  /** Asked to stop (an input changed, or the engine is stopping); waits for its dependents first. */
  stopWanted: boolean;
}

/**
 * Runs manifolds in dependency order. `install` at any time, in any order: a manifold waits for
 * inputs not yet installed. Kill the engine to stop everything, dependents before their inputs.
 */
export class Engine implements Worker, Reporter {
  /** An engine is a tree: a supervisor waits for it to stop as long as its manifolds take. */
  readonly kind = 'tree';
  readonly #isFatal: (err: Error) => boolean;
  readonly #worstError: (a: Error, b: Error) => Error;
  /** errorDelayMs, backoffFactor, maxDelayMs, fuzz and backoffResetMs as core's one backoff. */
  readonly #backoff: ResolvedBackoff;
  readonly #bounceDelayMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #graph = new DependencyGraph();
  readonly #nodes = new Map<string, Node>();
  /** Manifolds not in state 'stopped'; the engine has stopped when this reaches 0 while dying. */
  #active = 0;
  #dying = false;
  #stopped = false;
  #worst: Error | undefined;
  #allStopped: (() => void) | undefined;
  /** One reason for every stop the engine asks for: a clean kill, and no stack trace made per stop. */
  readonly #stopReason = new KilledError('stopped by the dependency engine');
  /** Settles when the engine has stopped: resolves, or rejects with the worst fatal error. */
  readonly #done: Promise<void>;
  #shutdown!: () => void;
  readonly #stopQueue: Node[] = [];
  #draining = false;

  constructor(options: EngineOptions = {}) {
    const o = resolveEngineOptions(options);
    this.#isFatal = o.isFatal;
    this.#worstError = o.worstError;
    this.#backoff = {
      initialMs: o.errorDelayMs,
      factor: o.backoffFactor,
      maxMs: o.maxDelayMs,
      jitter: o.fuzz,
      resetAfterMs: o.backoffResetMs,
    };
    this.#bounceDelayMs = o.bounceDelayMs;
    this.#clock = o.clock;
    this.#log = o.logger;
    // The engine's own stop: once asked (#die), every manifold is stopped, dependents first.
    this.#done = quiet(new Promise<void>((resolve) => (this.#shutdown = resolve)).then(() => this.#stopAll()));
  }

  /**
   * Adds a manifold and starts it once its inputs run. Throws at once (never waits for the start):
   * `AlreadyExistsError` for a name in use, `CycleError` naming the cycle, `DeadError` once the
   * engine is stopping.
   */
  install(name: string, manifold: Manifold): void {
    if (this.#dying) throw new DeadError(`engine is stopping: cannot install "${name}"`);
    if (typeof name !== 'string' || name === '') throw new TypeError('Engine.install: name must be a non-empty string');
    if (typeof manifold?.start !== 'function') throw new TypeError(`Engine.install: manifold "${name}" has no start function`);
    if (this.#graph.has(name)) throw new AlreadyExistsError(`manifold "${name}" is already installed; pick another name`);
    const inputs = [...(manifold.inputs ?? [])];
    if (new Set(inputs).size !== inputs.length) throw new TypeError(`Engine.install: manifold "${name}" lists an input twice`);
    this.#graph.add(name, inputs);
    const node: Node = {
      name,
      manifold,
      inputs,
      status: 'stopped',
      startedAt: 0,
      startCount: 0,
      failures: 0,
      blocked: false,
      stopWanted: false,
    };
    this.#nodes.set(name, node);
    this.#kick(node, 0);
  }

  /** Each manifold's state, inputs, start count, last error and its worker's own report. */
  report(): EngineReport {
    const entries: [string, ManifoldReport][] = [];
    for (const node of this.#nodes.values()) {
      const r: ManifoldReport = { state: node.status, inputs: [...node.inputs], startCount: node.startCount };
      if (node.lastError !== undefined) r.lastError = node.lastError.message;
      const report = node.status === 'running' ? reportOf(node.worker) : undefined;
      if (report !== undefined) r.report = report;
      entries.push([node.name, r]);
    }
    return { state: this.#stopped ? 'stopped' : this.#dying ? 'stopping' : 'running', manifolds: Object.fromEntries(entries) };
  }

  /** Stops every manifold, dependents first. An Error reason is weighed like a fatal error. */
  kill(reason?: unknown): void {
    if (reason instanceof Error && !isAbortLike(reason)) this.#noteFatal(reason);
    this.#die();
  }

  /** Settles once every worker stopped; rejects with the worst fatal error seen, if any. */
  wait(): Promise<void> {
    return this.#done;
  }

  async #stopAll(): Promise<void> {
    this.#dying = true;
    for (const node of [...this.#nodes.values()]) this.#requestStop(node);
    if (this.#active > 0) await new Promise<void>((resolve) => (this.#allStopped = resolve));
    this.#stopped = true;
    this.#log.debug({ engine: true }, 'engine stopped');
    if (this.#worst !== undefined) throw this.#worst;
  }

  /** Every restart delay is capped, then fuzzed; the bounce delay too. */
  #bounceDelay(): number {
    return jittered(Math.min(this.#bounceDelayMs, this.#backoff.maxMs), this.#backoff.jitter);
  }

  #die(): void {
    this.#dying = true;
    this.#shutdown();
  }

  #noteFatal(err: Error): void {
    if (this.#stopped) return;
    if (this.#worst === undefined) {
      this.#worst = err;
      return;
    }
    try {
      this.#worst = this.#worstError(this.#worst, err);
    } catch {
      // A broken worstError keeps the first error rather than crashing the engine's bookkeeping.
    }
  }

  /** Starts `node` after `delayMs` if it is stopped, not blocked, and every input runs and stays. */
  #kick(node: Node, delayMs: number): void {
    if (this.#dying || node.status !== 'stopped' || node.blocked || this.#nodes.get(node.name) !== node) return;
    for (const name of node.inputs) {
      const input = this.#nodes.get(name);
      if (input === undefined || input.status !== 'running' || input.stopWanted) return;
    }
    const attempt = new Attempt();
    node.status = 'starting';
    node.attempt = attempt;
    this.#active++;
    node.timer = this.#after(delayMs, () => {
      node.timer = undefined;
      this.#start(node, attempt);
    });
  }

  /** A timer on the clock, or for no delay a microtask: a start never runs inside install. */
  #after(ms: number, fn: () => void): TimerHandle {
    if (ms > 0) return this.#clock.setTimeout(fn, ms);
    let cleared = false;
    queueMicrotask(() => {
      if (!cleared) fn();
    });
    return { clear: () => void (cleared = true) };
  }

  #start(node: Node, attempt: Attempt): void {
    let started: Promise<Worker>;
    try {
      started = Promise.resolve(node.manifold.start(this.#context(node, attempt)));
    } catch (err) {
      started = Promise.reject(err);
    }
    started.then(
      (worker) => this.#started(node, attempt, worker),
      (err: unknown) => this.#exited(node, attempt, err, false),
    );
  }

  #context(node: Node, attempt: Attempt): StartContext {
    return {
      get signal() {
        return attempt.signal;
      },
      get: <T>(name: string): T => {
        if (!node.inputs.includes(name)) {
          throw new UndeclaredInputError(`manifold "${node.name}": input "${name}" is not declared; add it to the manifold's inputs`);
        }
        const input = this.#nodes.get(name);
        if (input === undefined || input.status !== 'running' || input.worker === undefined) {
          throw new MissingError(`manifold "${node.name}": input "${name}" is not running`);
        }
        if (input.manifold.output === undefined) {
          throw new NoOutputError(`manifold "${node.name}": input "${name}" exposes nothing (its manifold has no output)`);
        }
        return input.manifold.output(input.worker) as T;
      },
    };
  }

  #started(node: Node, attempt: Attempt, worker: Worker): void {
    if (node.attempt !== attempt) {
      worker?.kill?.(this.#stopReason);
      return;
    }
    if (typeof worker?.kill !== 'function' || typeof worker.wait !== 'function') {
      this.#exited(node, attempt, new TypeError(`manifold "${node.name}": start resolved without a Worker`), false);
      return;
    }
    node.worker = worker;
    worker.wait().then(
      () => this.#exited(node, attempt, undefined, true),
      (err: unknown) => this.#exited(node, attempt, err, true),
    );
    if (attempt.aborted) {
      // Stopped while starting (an input changed, or the engine is stopping): it must not run.
      worker.kill(this.#stopReason);
      return;
    }
    node.status = 'running';
    node.startCount++;
    node.startedAt = this.#clock.now();
    this.#log.debug({ manifold: node.name, startCount: node.startCount }, 'manifold started');
    // A new input is an input change: dependents waiting on it (or blocked) may start now.
    for (const name of this.#graph.dependents(node.name)) {
      const dependent = this.#nodes.get(name);
      if (dependent === undefined) continue;
      dependent.blocked = false;
      this.#kick(dependent, this.#bounceDelay());
    }
  }

  /** The start failed (`hadWorker` false) or the worker stopped; decide what happens next. */
  #exited(node: Node, attempt: Attempt, raw: unknown, hadWorker: boolean): void {
    if (node.attempt !== attempt) return;
    const requested = node.stopWanted || attempt.aborted;
    const ranMs = hadWorker ? this.#clock.now() - node.startedAt : 0;
    node.attempt = undefined;
    node.worker = undefined;
    node.timer = undefined;
    node.stopWanted = false;
    node.status = 'stopped';
    this.#active--;
    attempt.abort(this.#stopReason);

    const err = this.#filter(node, raw, requested ? attempt : undefined);
    if (err !== undefined) {
      node.lastError = err;
      if (this.#fatal(err)) {
        this.#log.error({ manifold: node.name, err }, 'fatal error: stopping the engine');
        this.#noteFatal(err);
        this.#die();
      }
    }

    if (err instanceof UninstallError) {
      this.#log.info({ manifold: node.name }, 'manifold uninstalled');
      this.#nodes.delete(node.name);
      this.#graph.remove(node.name);
    } else if (!this.#dying) {
      this.#restartLater(node, err, requested, hadWorker ? ranMs : -1);
    }

    // Inputs waiting for this dependent to stop may stop now; dependents of a manifold that
    // stopped by itself must stop too (their input changed) and restart when it runs again.
    for (const name of node.inputs) {
      const input = this.#nodes.get(name);
      if (input?.stopWanted) this.#queueStop(input);
    }
    for (const name of this.#graph.dependents(node.name)) {
      const dependent = this.#nodes.get(name);
      if (dependent !== undefined) this.#requestStop(dependent);
    }
    if (this.#dying && this.#active === 0) this.#allStopped?.();
  }

  #restartLater(node: Node, err: Error | undefined, requested: boolean, ranMs: number): void {
    if (requested) {
      // Stopped because an input changed: start again once every input runs again.
      this.#kick(node, this.#bounceDelay());
    } else if (err === undefined || err instanceof MissingError) {
      // Nothing will be different until an input changes, so retrying now would only spin.
      if (err === undefined) node.failures = 0;
      node.blocked = true;
    } else if (err instanceof BounceError) {
      this.#kick(node, this.#bounceDelay());
    } else {
      node.failures = nextFailure(this.#backoff, node.failures, ranMs);
      const delay = backoffDelay(this.#backoff, node.failures);
      this.#log.warn({ manifold: node.name, err, failures: node.failures, delayMs: delay }, 'manifold failed; restarting after a delay');
      this.#kick(node, delay);
    }
  }

  /** The error the engine acts on: undefined for a clean stop, else the manifold's filter applied. */
  #filter(node: Node, raw: unknown, killedBy: Attempt | undefined): Error | undefined {
    if (raw === undefined) return undefined;
    if (killedBy !== undefined && (isAbortLike(raw) || killedBy.isReason(raw))) return undefined;
    let err: unknown = raw;
    if (node.manifold.filter !== undefined) {
      try {
        err = node.manifold.filter(raw);
      } catch (thrown) {
        err = thrown;
      }
    }
    return err === undefined || err === null ? undefined : toError(err);
  }

  #fatal(err: Error): boolean {
    try {
      return this.#isFatal(err);
    } catch {
      return true; // a broken isFatal must not leave the engine restarting forever
    }
  }

  #requestStop(node: Node): void {
    if (node.status === 'stopped' || node.stopWanted) return;
    node.stopWanted = true;
    this.#queueStop(node);
  }

  /**
   * Stops run from a work list, not by recursion: a stop walks the whole dependent subtree, and
   * a long chain of manifolds would otherwise overflow the call stack.
   */
  #queueStop(node: Node): void {
    this.#stopQueue.push(node);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#stopQueue.pop(); next !== undefined; next = this.#stopQueue.pop()) this.#advanceStop(next);
    } finally {
      this.#draining = false;
    }
  }

  /** Stops `node` if every dependent has stopped; otherwise asks them to stop and waits to be queued again. */
  #advanceStop(node: Node): void {
    if (node.status !== 'starting' && node.status !== 'running') return;
    let waiting = false;
    for (const name of this.#graph.dependents(node.name)) {
      const dependent = this.#nodes.get(name);
      if (dependent === undefined || dependent.status === 'stopped') continue;
      waiting = true; // its #exited queues this node again
      if (!dependent.stopWanted) {
        dependent.stopWanted = true;
        this.#stopQueue.push(dependent);
      }
    }
    if (waiting) return;
    const attempt = node.attempt!;
    if (node.timer !== undefined) {
      node.timer.clear();
      this.#exited(node, attempt, undefined, false);
      return;
    }
    node.status = 'stopping';
    attempt.abort(this.#stopReason);
    // A start still in flight: its worker is killed as soon as it arrives (see #started).
    node.worker?.kill(this.#stopReason);
  }
}

// What a manifold is: a named recipe for a Worker that needs other workers (its inputs) running
// first. The engine calls `start` once every input runs, and `output` when a dependent asks for
// this manifold through `ctx.get`. Types only.

import type { Worker } from '../core/worker.js';

/** What `start` is given: its inputs' outputs, and a signal that aborts if the start is no longer wanted. */
export interface StartContext {
  /**
   * The current output of input `name`, read when called. Throws `UndeclaredInputError` ("not
   * declared") for a name missing from `inputs`, `MissingError` if that input is not running,
   * and `NoOutputError` if its manifold exposes nothing.
   */
  get<T>(name: string): T;
  /** Aborted when the engine no longer wants this start (an input went away, or the engine stops). */
  readonly signal: AbortSignal;
}

export interface Manifold {
  /** Names of the manifolds that must be running before this one starts. They need not be installed yet. */
  readonly inputs?: readonly string[];
  /**
   * Makes the worker. Runs once every input is running; reject with `MissingError` when an input is
   * unusable (the engine waits for an input to change), `BounceError` to be restarted soon, or
   * `UninstallError` to be removed. Should honour `ctx.signal`.
   */
  start(ctx: StartContext): Promise<Worker>;
  /** What dependents get from `ctx.get(thisName)`; called on each `get` with the running worker. */
  output?(worker: Worker): unknown;
  /**
   * Rewrites the error that stopped the worker (or failed its start) before the engine acts on it.
   * Return `undefined` to treat the stop as clean.
   */
  filter?(err: unknown): unknown;
}

/** A manifold's place in its life cycle, as `report()` shows it. */
export type ManifoldState = 'stopped' | 'starting' | 'running' | 'stopping';

export interface ManifoldReport {
  state: ManifoldState;
  inputs: string[];
  /** Times `start` produced a worker. */
  startCount: number;
  /** Message of the last error that stopped the worker or failed its start. */
  lastError?: string;
  /** The running worker's own `report()`, if it has one. */
  report?: unknown;
}

export interface EngineReport {
  state: 'running' | 'stopping' | 'stopped';
  manifolds: Record<string, ManifoldReport>;
}

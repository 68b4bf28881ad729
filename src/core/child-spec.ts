// What a supervisor is told about each child (OTP's child specification) and what it
// reports back. Specs are checked once, when given, so a bad one fails loudly at the call
// that supplied it rather than at the first crash.

import { resolveBackoff, type BackoffOptions, type ResolvedBackoff } from './backoff.js';
import { RestartWindow } from './intensity.js';
import type { Worker } from './worker.js';

/** Which children a crash restarts (OTP strategies). */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/**
 * When a child is restarted: `permanent` always; `transient` only after an error (a clean
 * stop removes it); `temporary` never (any stop removes it).
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * How a child is stopped: a number of ms to wait after `kill()` before abandoning it with a
 * logged error; `'brutal'` kills without waiting; `'infinity'` waits as long as it takes.
 */
export type ShutdownMs = number | 'brutal' | 'infinity';

/** OTP's auto_shutdown: whether the exit of `significant` children stops the supervisor. */
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

/** `failed`: the child passed its own restart limit (`ChildSpec.intensity`) and is not restarted. */
export type ChildState = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed';

/**
 * What a child is (OTP's child `type`): a `'worker'` does work itself; a `'tree'` supervises
 * workers of its own (a Supervisor, Runner, Engine, Service), so stopping it takes as long as
 * stopping all of them and its default `shutdownMs` is `'infinity'`.
 */
export type ChildKind = 'worker' | 'tree';

export interface ChildSpec {
  /** Unique within its supervisor. */
  id: string;
  /**
   * Starts the child (OTP's start_link). A Worker is the child; if it has `started()`, the
   * start is done once that resolved. A promise holds back the next sibling until it settles:
   * a promise of a Worker makes that Worker the child (resolve it once the child is ready); a
   * promise of nothing means the call itself was the work, and it has ended. A rejection, a
   * synchronous throw or a rejected `started()` is a failed start. `signal` is this run's
   * own: it aborts when the supervisor stops the run (a pending start too), and once the run
   * ended on its own if work it left behind still listens on it, so that work stops too.
   */
  start: (signal: AbortSignal) => Worker | Promise<Worker | void>;
  /** Default `'permanent'`. */
  restart?: RestartType;
  /**
   * Default `'infinity'` for a tree, 5000 for a worker (see `kind`). A tree is given all the
   * time its own children need, as OTP gives a supervisor child `infinity`.
   */
  shutdownMs?: ShutdownMs;
  /**
   * Whether the child is a worker or a tree of its own (OTP's `type`). Only the default
   * `shutdownMs` depends on it. When not given, the child's Worker says it with its own
   * `kind` property (Supervisor, Runner, Engine and Service are trees); otherwise a worker.
   */
  kind?: ChildKind;
  /**
   * With the supervisor's `autoShutdown`, the exit of this child (when it is not restarted)
   * can stop the supervisor. Only `transient` and `temporary` children may be significant,
   * and only under an `autoShutdown` other than `'never'` (as in OTP). Default false.
   */
  significant?: boolean;
  /**
   * This child's own restart limit, beside the supervisor's (systemd's per-unit start limit;
   * OTP has only the supervisor-wide one): the restart that would be its (intensity+1)-th
   * within `periodMs` is not made. The child alone is given up on: its state becomes
   * `failed`, its `lastError` a RestartIntensityError whose `cause` is its last error, and its
   * siblings keep running (no group restart). `restartChild` starts it again with a fresh
   * count. Default: none (only the supervisor's limit applies).
   */
  intensity?: number;
  /** The window of this child's own `intensity`, in ms. Default 5000. */
  periodMs?: number;
  /** This child's restart delays, in place of the supervisor's `backoff`. */
  backoff?: BackoffOptions;
}

/** A snapshot of one child, as `Supervisor.children()` reports it. */
export interface ChildInfo {
  id: string;
  state: ChildState;
  /** Restarts done by the supervisor (a crash, or a sibling's crash under one_for_all/rest_for_one). */
  restarts: number;
  /** The last error this child exited with, if any. */
  lastError?: Error;
  /** When the current (or last) run started, on the supervisor's clock. */
  startedAt?: number;
}

export interface ResolvedSpec {
  id: string;
  start: ChildSpec['start'];
  restart: RestartType;
  shutdownMs: ShutdownMs | undefined;
  kind: ChildKind | undefined;
  significant: boolean;
  /** A fresh window for each record: the count is the child's own. */
  window: (() => RestartWindow) | undefined;
  backoff: ResolvedBackoff | undefined;
}

const restartTypes: readonly string[] = ['permanent', 'transient', 'temporary'];

/** Validates a spec; throws a TypeError that names the child and the field. */
export function resolveSpec(spec: ChildSpec, autoShutdown: AutoShutdown): ResolvedSpec {
  if (spec === null || typeof spec !== 'object') throw new TypeError('child spec must be an object');
  const { id } = spec;
  if (typeof id !== 'string' || id === '') throw new TypeError('child spec id must be a non-empty string');
  if (typeof spec.start !== 'function') throw new TypeError(`child ${id}: start must be a function`);
  const restart = spec.restart ?? 'permanent';
  if (!restartTypes.includes(restart)) {
    throw new TypeError(`child ${id}: restart must be permanent, transient or temporary, got ${String(restart)}`);
  }
  const shutdownMs = spec.shutdownMs;
  if (
    shutdownMs !== undefined &&
    shutdownMs !== 'brutal' &&
    shutdownMs !== 'infinity' &&
    !(typeof shutdownMs === 'number' && shutdownMs >= 0 && Number.isFinite(shutdownMs))
  ) {
    throw new TypeError(`child ${id}: shutdownMs must be a number >= 0, 'brutal' or 'infinity', got ${String(shutdownMs)}`);
  }
  const kind = spec.kind;
  if (kind !== undefined && kind !== 'worker' && kind !== 'tree') {
    throw new TypeError(`child ${id}: kind must be 'worker' or 'tree', got ${String(kind)}`);
  }
  const significant = spec.significant === true;
  if (significant && restart === 'permanent') {
    throw new TypeError(`child ${id}: a permanent child cannot be significant (it is always restarted)`);
  }
  if (significant && autoShutdown === 'never') {
    throw new TypeError(`child ${id}: significant needs the supervisor's autoShutdown to be any_significant or all_significant`);
  }
  let window: ResolvedSpec['window'];
  if (spec.intensity !== undefined || spec.periodMs !== undefined) {
    const intensity = spec.intensity ?? Infinity;
    const periodMs = spec.periodMs ?? 5000;
    try {
      new RestartWindow(intensity, periodMs);
    } catch (err) {
      throw new TypeError(`child ${id}: ${(err as Error).message}`);
    }
    window = () => new RestartWindow(intensity, periodMs);
  }
  let backoff: ResolvedBackoff | undefined;
  try {
    backoff = spec.backoff === undefined ? undefined : resolveBackoff(spec.backoff);
  } catch (err) {
    throw new TypeError(`child ${id}: ${(err as Error).message}`);
  }
  return { id, start: spec.start, restart, shutdownMs, kind, significant, window, backoff };
}

/** True for anything with Worker's shape. */
export function isWorker(value: unknown): value is Worker {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Worker).kill === 'function' &&
    typeof (value as Worker).wait === 'function'
  );
}

/** Default `shutdownMs` of a worker child. */
const WORKER_SHUTDOWN_MS = 5000;

/**
 * The `shutdownMs` a child gets: its spec's, else `'infinity'` for a tree and 5000 for a
 * worker, the kind coming from the spec or else from the Worker itself.
 */
export function shutdownOf(spec: ResolvedSpec, worker: Worker | undefined): ShutdownMs {
  if (spec.shutdownMs !== undefined) return spec.shutdownMs;
  return (spec.kind ?? worker?.kind) === 'tree' ? 'infinity' : WORKER_SHUTDOWN_MS;
}

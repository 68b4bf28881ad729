// A Catacomb owns a piece of work and the workers it adds, and stops them together.
// Build a worker as `Catacomb.invoke({ work: async (c) => { c.add(sub); ... } })`: any
// added worker's error kills the whole catacomb, and wait() settles only after every
// added worker stopped. The first real error is kept; later errors never overwrite it,
// which a hand-written "defer stop" that records the stop's error would get wrong.

import { KilledError, isAbortLike } from './errors.js';
import { quiet, type Worker } from './worker.js';

export interface CatacombPlan {
  /** The catacomb's own work; when it settles the catacomb dies with its result. */
  work: (c: Catacomb) => Promise<void> | void;
  /** Workers added before `work` starts. */
  init?: Worker[];
}

export class Catacomb implements Worker {
  readonly #abort = new AbortController();
  readonly #workers = new Set<Worker>();
  #err: Error | undefined;
  #pending = 0;
  #settled = false;
  #settle!: () => void;
  readonly #done: Promise<void>;

  private constructor() {
    this.#done = quiet(
      new Promise<void>((resolve) => {
        this.#settle = resolve;
      }).then(() => {
        if (this.#err !== undefined) throw this.#err;
      }),
    );
  }

  /** Starts `plan.work` at once and returns the running catacomb. */
  static invoke(plan: CatacombPlan): Catacomb {
    const c = new Catacomb();
    c.#pending++; // the work itself
    for (const w of plan.init ?? []) c.add(w);
    let result: Promise<void> | void;
    try {
      result = plan.work(c);
    } catch (err) {
      c.#workDone(err, true);
      return c;
    }
    Promise.resolve(result).then(
      () => c.#workDone(undefined, false),
      (err: unknown) => c.#workDone(err, true),
    );
    return c;
  }

  /** Aborted once the catacomb starts dying; pass it to the work's own waits. */
  get dying(): AbortSignal {
    return this.#abort.signal;
  }

  /** The first real error recorded, if any. */
  err(): Error | undefined {
    return this.#err;
  }

  /**
   * Adds a worker whose life is bound to the catacomb: its error kills the catacomb, and the
   * catacomb's death kills it. Adding to a dying catacomb kills the worker at once.
   */
  add(worker: Worker): void {
    this.#workers.add(worker);
    this.#pending++;
    if (this.#abort.signal.aborted) worker.kill(this.#abort.signal.reason);
    worker.wait().then(
      () => this.#workerDone(worker, undefined, false),
      (err: unknown) => this.#workerDone(worker, err, true),
    );
  }

  /**
   * Starts the catacomb dying. An Error (other than a kill or abort) is recorded if nothing is
   * recorded yet; a bare kill() is clean.
   */
  kill(reason?: unknown): void {
    if (reason instanceof Error && !isAbortLike(reason)) this.#record(reason);
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(this.#err ?? reason ?? new KilledError('catacomb killed'));
    for (const w of this.#workers) w.kill(this.#abort.signal.reason);
  }

  wait(): Promise<void> {
    return this.#done;
  }

  #record(err: Error): void {
    // Once wait() has settled its result is final: a worker added after death cannot change it.
    if (this.#err === undefined && !this.#settled) this.#err = err;
  }

  #workDone(err: unknown, failed: boolean): void {
    if (failed && !(this.#abort.signal.aborted && isAbortLike(err, this.#abort.signal))) {
      this.#record(err instanceof Error ? err : new Error(`catacomb work failed: ${String(err)}`, { cause: err }));
    }
    this.kill();
    this.#release();
  }

  #workerDone(worker: Worker, err: unknown, failed: boolean): void {
    this.#workers.delete(worker);
    if (failed && !(this.#abort.signal.aborted && isAbortLike(err, this.#abort.signal))) {
      this.#record(err instanceof Error ? err : new Error(`worker failed: ${String(err)}`, { cause: err }));
      this.kill();
    }
    this.#release();
  }

  #release(): void {
    if (--this.#pending === 0 && !this.#settled) {
      this.#settled = true;
      this.#settle();
    }
  }
}

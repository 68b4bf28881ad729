// One-at-a-time execution for a supervisor's decisions, as OTP gets from being a single
// process: an op that returns a promise holds the queue until it settles, so an exit that
// arrives while a restart stops siblings is handled after that restart, never during it.
// An idle queue runs an op at once, synchronously, which keeps the restart path short.

import { Fifo } from './fifo.js';

export type Op = () => void | Promise<void>;

export class SerialQueue {
  readonly #ops = new Fifo<Op>();
  #busy: boolean;

  /**
   * `onError` receives an op's unexpected throw or rejection (a bug in the owner) and may
   * return a promise that holds the queue, as an op would.
   */
  constructor(
    private readonly onError: (err: unknown) => void | Promise<void>,
    startBusy = false,
  ) {
    this.#busy = startBusy;
  }

  /** Queues `op` behind what is queued; runs it now if the queue is idle. */
  enqueue(op: Op): void {
    this.#ops.push(op);
    if (!this.#busy) {
      this.#busy = true;
      this.#drain();
    }
  }

  /**
   * For a hot path that wants no closure when idle: returns true (and holds the queue) if
   * the caller may run its op now, after which it must call `leave` with the op's result.
   */
  tryEnter(): boolean {
    if (this.#busy) return false;
    this.#busy = true;
    return true;
  }

  leave(result: void | Promise<void>): void {
    if (result !== undefined) result.then(this.#drain, this.#drainAfterError);
    else this.#drain();
  }

  /** Releases a queue created busy (so that nothing overtakes the owner's first op). */
  start(): void {
    this.#drain();
  }

  /** Runs `fn` in the queue; the promise settles with its result (errors go to the caller, not `onError`). */
  call(fn: () => void | Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.enqueue(() => {
        let result: void | Promise<void>;
        try {
          result = fn();
        } catch (err) {
          reject(err);
          return;
        }
        if (result !== undefined) return result.then(resolve, reject);
        resolve();
      });
    });
  }

  readonly #drain = (): void => {
    for (;;) {
      const op = this.#ops.shift();
      if (op === undefined) {
        this.#busy = false;
        return;
      }
      let result: void | Promise<void>;
      try {
        result = op();
      } catch (err) {
        result = this.onError(err);
      }
      if (result !== undefined) {
        result.then(this.#drain, this.#drainAfterError);
        return;
      }
    }
  };

  readonly #drainAfterError = (err: unknown): void => {
    const more = this.onError(err);
    if (more !== undefined) more.then(this.#drain, this.#drain);
    else this.#drain();
  };
}

// Restart intensity, as OTP counts it: a supervisor may restart at most `intensity` times
// within any `periodMs`; the restart that would exceed it makes the supervisor give up.
// Only the most recent intensity + 1 restarts matter, so memory stays bounded.

import { Fifo } from './fifo.js';

export class RestartWindow {
  /** Times of the restarts still in the window, oldest first. */
  readonly #times = new Fifo<number>();

  constructor(
    readonly intensity: number,
    readonly periodMs: number,
  ) {
    if (!(intensity >= 0) || (Number.isFinite(intensity) && !Number.isInteger(intensity))) {
      throw new RangeError(`intensity must be an integer >= 0 or Infinity, got ${intensity}`);
    }
    if (!(periodMs > 0)) throw new RangeError(`periodMs must be > 0, got ${periodMs}`);
  }

  /** Records a restart at `now`. False means it exceeds the intensity: give up. */
  add(now: number): boolean {
    if (this.intensity === Infinity) return true;
    const times = this.#times;
    times.push(now);
    // OTP keeps a restart while Now =< Then + Period.
    while (times.peek()! + this.periodMs < now) times.shift();
    while (times.length > this.intensity + 1) times.shift();
    return times.length <= this.intensity;
  }

  /** Restarts counted in the window ending at `now`. */
  count(now: number): number {
    let n = 0;
    for (const t of this.#times) if (t + this.periodMs >= now) n++;
    return n;
  }
}

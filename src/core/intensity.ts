// Restart intensity, as OTP counts it: a supervisor may restart at most `intensity` times
// within any `periodMs`; the restart that would exceed it makes the supervisor give up.
// Only the most recent intensity + 1 restarts matter, so memory stays bounded.

export class RestartWindow {
  readonly #times: number[] = [];
  #head = 0;

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
    while (times[this.#head]! + this.periodMs < now) this.#head++;
    const keep = this.intensity + 1;
    if (times.length - this.#head > keep) this.#head = times.length - keep;
    if (this.#head > 64 && this.#head * 2 > times.length) {
      times.splice(0, this.#head);
      this.#head = 0;
    }
    return times.length - this.#head <= this.intensity;
  }

  /** Restarts counted in the window ending at `now`. */
  count(now: number): number {
    let n = 0;
    for (let i = this.#head; i < this.#times.length; i++) if (this.#times[i]! + this.periodMs >= now) n++;
    return n;
  }
}

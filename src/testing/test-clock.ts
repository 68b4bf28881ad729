// TestClock: a Clock whose time moves only when a test says so. advance(ms) first lets
// already-queued work run, then fires due timers one by one in due order, letting each
// callback's work run, so timers created inside the window fire too.

import type { Clock, TimerHandle } from '../core/clock.js';
import { sleepOn } from '../core/clock.js';
import { TimeoutError } from '../core/errors.js';

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
}

/** Lets pending promise callbacks and immediates run; `rounds` macrotask turns. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export class TestClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<Timer>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.add(timer);
    return { clear: () => void this.#timers.delete(timer) };
  }

  /** Number of timers not yet fired or cleared. */
  pending(): number {
    return this.#timers.size;
  }

  /** Due times (relative to now) of pending timers, soonest first; for diagnostics. */
  pendingDelays(): number[] {
    return [...this.#timers].map((t) => t.due - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer due on the way (see the file comment). */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`TestClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#earliestDue(target);
      if (next === undefined) break;
      this.#timers.delete(next);
      if (next.due > this.#now) this.#now = next.due;
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /**
   * Waits (in real time, up to `timeoutMs`) until at least `timers` timers are pending, then
   * advances by `ms`. Rejects with TimeoutError if they never appear.
   */
  async waitAdvance(ms: number, timers: number, timeoutMs = 2000): Promise<void> {
    await this.waitPending(timers, timeoutMs);
    await this.advance(ms);
  }

  /** Waits (in real time, up to `timeoutMs`) until at least `timers` timers are pending. */
  async waitPending(timers: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#timers.size < timers) {
      if (Date.now() > deadline) {
        throw new TimeoutError(`TestClock: waited ${timeoutMs} ms for ${timers} pending timers, have ${this.#timers.size}`);
      }
      await settle(1);
    }
  }

  #earliestDue(limit: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.#timers) {
      if (t.due > limit) continue;
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

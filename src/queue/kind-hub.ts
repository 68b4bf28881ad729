// What the consumers of one kind in one JobQueue share, so that idle consumers cost the
// database as little as one would: a new-job notification wakes one idle consumer (which
// wakes the next if it found a full batch), a timed poll is skipped when another consumer of
// the kind looked moments ago, and expired leases are reaped by one consumer at a time.
// (graphile-worker likewise nudges one idle worker per notification.)

export class KindHub {
  /** Idle consumers, longest idle first. */
  readonly #idle = new Set<() => void>();
  /** Nudges that found nobody idle; the next consumer to go idle takes one instead of waiting. */
  #owed = 0;
  #members = 0;
  /** When a consumer of this kind last asked the store for jobs (clock ms). */
  lastLookAt = -Infinity;
  /** When a consumer of this kind last reaped expired leases (clock ms). */
  lastReapAt = -Infinity;

  join(): () => void {
    this.#members++;
    return () => {
      this.#members--;
      this.#owed = Math.min(this.#owed, this.#members);
    };
  }

  /** Wakes one idle consumer, or the next one to go idle. */
  nudge(): void {
    const first = this.#idle.values().next();
    if (first.done === true) {
      this.#owed = Math.min(this.#owed + 1, Math.max(1, this.#members));
      return;
    }
    this.#idle.delete(first.value);
    first.value();
  }

  /** True when a nudge is owed to whoever goes idle now (and takes it). */
  takeOwed(): boolean {
    if (this.#owed === 0) return false;
    this.#owed--;
    return true;
  }

  idle(wake: () => void): () => void {
    this.#idle.add(wake);
    return () => this.#idle.delete(wake);
  }
}

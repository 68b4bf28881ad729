// One start of one manifold, from the engine's decision to start it until its worker stopped.
// Its AbortSignal (the start context's `signal`) is made only if someone reads it: most starts
// never do, and an AbortController per start is most of the cost of bouncing a large engine.

export class Attempt {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  /** True once the engine no longer wants this start or its worker. */
  get aborted(): boolean {
    return this.#aborted;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** Whether `err` is this attempt's abort reason, surfaced by work that honoured the signal. */
  isReason(err: unknown): boolean {
    return this.#aborted && err === this.#reason;
  }
}

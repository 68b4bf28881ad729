// Coalesces acknowledgements: jobs that finish while an acknowledgement is being written are
// written together in the next statement (one UPDATE, one commit), with no added wait. Each
// job's row is still updated and checked against its own claim, and each caller's promise
// settles only after the commit that recorded its job, so "done" is never reported (and the
// job's place is never reused) before it is durable.

export class AckBatcher<T> {
  readonly #write: (items: T[]) => Promise<Set<string>>;
  readonly #idOf: (item: T) => string;
  readonly #max: number;
  #queue: { item: T; resolve: (held: boolean) => void; reject: (err: unknown) => void }[] = [];
  #writing = false;

  constructor(write: (items: T[]) => Promise<Set<string>>, idOf: (item: T) => string, max = 500) {
    this.#write = write;
    this.#idOf = idOf;
    this.#max = max;
  }

  /** True while a write is under way or waiting: the next write is coming anyway. */
  get active(): boolean {
    return this.#writing;
  }

  /** Resolves true once `item` is durably acknowledged, false if its claim was lost. */
  submit(item: T): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#max);
      try {
        const held = await this.#write(batch.map((b) => b.item));
        for (const b of batch) b.resolve(held.has(this.#idOf(b.item)));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.#writing = false;
  }
}

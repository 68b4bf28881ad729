// A minimal typed event emitter: listeners are plain functions keyed by event name, and
// emitting with nobody listening costs one property read, so hot paths can emit freely.
// A listener that throws is reported to `onError` and never breaks the emitter's owner.

export type Listener<E> = (event: E) => void;

export class Emitter<M extends object> {
  #listeners: { [K in keyof M]?: Listener<M[K]>[] } = {};

  constructor(private readonly onError: (err: unknown, event: keyof M) => void = () => {}) {}

  /** Calls `listener` for every `name` event; returns a function that removes it. */
  on<K extends keyof M>(name: K, listener: Listener<M[K]>): () => void {
    // Copy on write: a listener that (un)subscribes while an event is dispatched does not
    // change that dispatch.
    this.#listeners[name] = [...(this.#listeners[name] ?? []), listener];
    return () => this.off(name, listener);
  }

  off<K extends keyof M>(name: K, listener: Listener<M[K]>): void {
    const list = this.#listeners[name];
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i < 0) return;
    const next = list.filter((_, j) => j !== i);
    if (next.length === 0) delete this.#listeners[name];
    else this.#listeners[name] = next;
  }

  /** True when someone listens for `name`: build the event only then. */
  has(name: keyof M): boolean {
    return this.#listeners[name] !== undefined;
  }

  emit<K extends keyof M>(name: K, event: M[K]): void {
    const list = this.#listeners[name];
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (err) {
        this.onError(err, name);
      }
    }
  }
}

// QueueTask: sparts' queue task. `submit(item)` resolves with `execute(item)`'s result or
// rejects with its error; `workers` items run at once; TryLater re-queues an item with
// exponential backoff; `maxQueue` bounds the queue with back-pressure. On stop every promise
// settles: queued items drain until `drainMs`, then the rest reject with DeadError.
//
// Its `workers` run loops (the option, default `static workers`) are the service's loops of
// this task: each takes the next item and executes it, and parks when the queue is empty. The
// submit/dispatch path is kept cheap on purpose (see bench/queue-task): an array queue
// (core's Fifo), no timer per item, a submit that hands its item straight to a parked loop, and a
// loop that pulls the next item itself instead of going back through the event loop.

import { backoffDelay } from '../core/backoff.js';
import { DeadError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import type { TimerHandle } from '../core/clock.js';
import { QueueFullError, TryLater } from './errors.js';
import type { OptionSpecs } from './options.js';
import type { Service } from './service.js';
import { Task, type TaskContext } from './task.js';

export interface QueueContext {
  /** Aborted when the service stops and the drain deadline passed. */
  signal: AbortSignal;
  service: Service;
}

export interface SubmitOptions {
  /** When the queue is at `maxQueue`: true (default) waits for room; false rejects with QueueFullError. */
  wait?: boolean;
}

/** Items of a back-to-back run timed one by one before timing switches to one read per STRIDE. */
const STREAK = 16;
const STRIDE = 8;

/** The longest wait between two tries of one item. */
const MAX_RETRY_MS = 60_000;

/**
 * One executor for every submit: it parks the promise's resolve/reject here, where submit
 * picks them up at once. Saves a closure per item on the hot path (Node 20 has no
 * Promise.withResolvers).
 */
const captured: { resolve: (r: unknown) => void; reject: (e: unknown) => void } = { resolve: () => {}, reject: () => {} };
function capture(resolve: (r: never) => void, reject: (e: unknown) => void): void {
  captured.resolve = resolve as (r: unknown) => void;
  captured.reject = reject;
}

interface Entry<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  tries: number;
  done: boolean;
}

export abstract class QueueTask<Item = unknown, Result = unknown> extends Task {
  /** Default of the `maxQueue` option: queued items beyond which submit waits (0: unbounded). */
  static maxQueue = 0;
  /** Default of the `drainMs` option: how long a stopping queue keeps running queued items. */
  static drainMs = 30_000;

  static override optionSpecs(): OptionSpecs {
    return {
      workers: { type: 'integer', default: this.workers, min: 1, help: 'items executed at once' },
      maxQueue: { type: 'integer', default: this.maxQueue, min: 0, help: 'queued items beyond which submit waits (0: unbounded)' },
      drainMs: {
        type: 'duration',
        default: this.drainMs,
        min: 0,
        help: 'on stop, how long queued items keep running before the rest are rejected',
      },
      ...super.optionSpecs(),
    };
  }

  override readonly counters: Record<string, number> = {
    submitted: 0,
    completed: 0,
    failed: 0,
    tryLater: 0,
    rejected: 0,
    queueDepth: 0,
    running: 0,
    delayed: 0,
    waiting: 0,
  };

  readonly #maxQueue: number;
  readonly #abort = new AbortController();
  readonly #ctx: QueueContext;
  readonly #queue = new Fifo<Entry<Item, Result>>();
  /** Submits waiting for room (maxQueue), oldest first. */
  readonly #blocked = new Fifo<Entry<Item, Result>>();
  readonly #delayed = new Map<Entry<Item, Result>, TimerHandle>();
  /** The entry each run loop is executing, by loop; undefined when free. Cheaper than a Set. */
  readonly #slots: Array<Entry<Item, Result> | undefined> = [];
  /** Run loops waiting for an item; each is resumed with one, or with undefined to end. */
  #parked: Array<(entry: Entry<Item, Result> | undefined) => void> = [];
  /** Run loops started and not yet ended. */
  #loops = 0;
  #running = 0;
  #dispatching = false;
  #closed = false;
  /** The drain deadline passed (same as #abort.signal.aborted, but a plain field read on the hot path). */
  #cut = false;
  #drainTimer: TimerHandle | undefined;

  constructor(ctx: TaskContext) {
    super(ctx);
    this.#maxQueue = (this.options.maxQueue as number | undefined) ?? 0;
    this.#ctx = Object.freeze({ signal: this.#abort.signal, service: this.service });
    this.signal.addEventListener('abort', () => this.#close(), { once: true });
  }

  /** Does the work for one item; its result resolves the item's `submit`. */
  abstract execute(item: Item, ctx: QueueContext): Promise<Result>;

  /** Queues `item`; resolves with its result. Items submitted before the task starts wait for it. */
  submit(item: Item, opts?: SubmitOptions): Promise<Result> {
    if (this.#closed) return Promise.reject(new DeadError(`task ${this.name} is stopping and takes no new items`));
    const c = this.counters;
    c.submitted!++;
    const full = this.#maxQueue > 0 && (this.#queue.length + this.#delayed.size >= this.#maxQueue || this.#blocked.length > 0);
    if (full && opts?.wait === false) {
      c.rejected!++;
      return Promise.reject(
        new QueueFullError(
          `task ${this.name}: queue is full (maxQueue ${this.#maxQueue}); try again later, or submit without { wait: false } to wait for room`,
        ),
      );
    }
    const promise = new Promise<Result>(capture);
    const entry: Entry<Item, Result> = {
      item,
      resolve: captured.resolve as (r: Result) => void,
      reject: captured.reject,
      tries: 0,
      done: false,
    };
    if (full) {
      this.#blocked.push(entry);
      c.waiting!++;
    } else this.#enqueue(entry);
    return promise;
  }

  /** Submits every item; resolves with their results in input order (rejects with the first error). */
  map(items: Iterable<Item>, opts?: SubmitOptions): Promise<Result[]> {
    const all: Promise<Result>[] = [];
    for (const item of items) all.push(this.submit(item, opts));
    return Promise.all(all);
  }

  override warnings(): string[] {
    if (this.#maxQueue > 0 && this.counters.queueDepth! >= this.#maxQueue * 0.9)
      return [`queue at ${this.counters.queueDepth}/${this.#maxQueue}`];
    return [];
  }

  /**
   * One of the task's `workers` loops: executes queued items one after another and parks while
   * the queue is empty. It ends once the task is stopping and nothing is left (or the drain
   * deadline passed), not at its signal: on stop the queue drains first.
   */
  override async run(): Promise<void> {
    this.#dispatching = true;
    this.#loops++;
    const slot = this.#slots.push(undefined) - 1;
    try {
      for (let entry = this.#shift(); entry !== undefined || (entry = await this.#park()) !== undefined; entry = this.#shift()) {
        await this.#work(entry, slot);
        if (this.#cut) break;
      }
    } finally {
      this.#slots[slot] = undefined;
      if (--this.#loops === 0 && this.#closed) {
        this.#drainTimer?.clear();
        this.#drainTimer = undefined;
      }
    }
  }

  /** Queues `entry`, or hands it to a parked loop at once. */
  #enqueue(entry: Entry<Item, Result>): void {
    const loop = this.#parked.pop();
    if (loop !== undefined) loop(entry);
    else {
      this.#queue.push(entry);
      this.counters.queueDepth!++;
    }
  }

  /** Waits for the next item; undefined when the loop should end. */
  #park(): Promise<Entry<Item, Result> | undefined> {
    if (this.#cut || this.#drained()) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#parked.push(resolve));
  }

  /** Stopping, and nothing queued or waiting to retry: every parked loop can end. */
  #drained(): boolean {
    return this.#closed && this.#queue.length === 0 && this.#delayed.size === 0;
  }

  /** Ends the parked loops once nothing can reach them any more. */
  #releaseParked(): void {
    if (!this.#cut && !this.#drained()) return;
    const parked = this.#parked;
    this.#parked = [];
    for (const loop of parked) loop(undefined);
  }

  /** Runs `first`, then keeps pulling queued items until there are none (or the queue is cut off). */
  async #work(first: Entry<Item, Result>, slot: number): Promise<void> {
    const c = this.counters;
    this.#running++;
    c.running = this.#running;
    const clock = this.clock;
    const timing = this.timing;
    const slots = this.#slots;
    let entry: Entry<Item, Result> | undefined = first;
    // Reading the clock costs as much as a trivial item (Date.now is a system call on some
    // VMs), so: one read per item (an item's end is the next one's start), and past the
    // first STREAK items of a back-to-back run, one read per STRIDE items, recorded as their
    // mean. Count and total stay exact.
    let started = clock.now();
    let unread = 0;
    let streak = 0;
    while (entry !== undefined) {
      slots[slot] = entry;
      try {
        const result = await this.execute(entry.item, this.#ctx);
        c.completed!++;
        if (!entry.done) {
          entry.done = true;
          entry.resolve(result);
        }
      } catch (err) {
        this.#onError(entry, err);
      }
      entry = this.#cut ? undefined : this.#shift();
      unread++;
      if (++streak <= STREAK || unread === STRIDE || entry === undefined) {
        const ended = clock.now();
        timing.record(ended - started, unread);
        started = ended;
        unread = 0;
      }
    }
    slots[slot] = undefined;
    this.#running--;
    c.running = this.#running;
    this.#releaseParked();
  }

  #onError(entry: Entry<Item, Result>, err: unknown): void {
    const c = this.counters;
    if (err instanceof TryLater && !this.#cut && !entry.done) {
      c.tryLater!++;
      entry.tries++;
      const delay = backoffDelay({ initialMs: Math.max(1, err.afterMs), factor: 2, maxMs: MAX_RETRY_MS, jitter: 0 }, entry.tries);
      c.delayed!++;
      this.#delayed.set(
        entry,
        this.clock.setTimeout(() => {
          this.#delayed.delete(entry);
          c.delayed!--;
          this.#enqueue(entry);
        }, delay),
      );
      return;
    }
    c.failed!++;
    if (!entry.done) {
      entry.done = true;
      entry.reject(err);
    }
  }

  /** The next queued item, moving a blocked submit into the freed place. */
  #shift(): Entry<Item, Result> | undefined {
    if (this.#queue.length === 0) {
      if (this.#blocked.length === 0) return undefined;
      this.#admitBlocked();
      if (this.#queue.length === 0) return undefined;
    }
    const entry = this.#queue.shift()!;
    this.counters.queueDepth!--;
    if (this.#blocked.length > 0) this.#admitBlocked();
    return entry;
  }

  #admitBlocked(): void {
    while (this.#blocked.length > 0 && this.#queue.length + this.#delayed.size < this.#maxQueue) {
      this.counters.waiting!--;
      this.#enqueue(this.#blocked.shift()!);
    }
  }

  /** Stop taking items; drain until `drainMs`, then reject what is left. Idempotent. */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const dead = () => new DeadError(`task ${this.name} stopped before this item ran`);
    // Submits still waiting for room were never accepted: they fail now.
    for (const entry of this.#blocked.drain()) this.#settleDead(entry, dead());
    this.counters.waiting = 0;
    const drainMs = this.#dispatching ? ((this.options.drainMs as number | undefined) ?? 30_000) : 0;
    if (drainMs > 0 && !this.#isIdle()) {
      this.#drainTimer = this.clock.setTimeout(() => this.#cutOff(), drainMs);
    } else {
      this.#cutOff();
    }
    this.#releaseParked();
  }

  /** The drain deadline passed: reject queued, delayed and running items, abort running work. */
  #cutOff(): void {
    this.#drainTimer = undefined;
    this.#cut = true;
    const err = () => new DeadError(`task ${this.name} stopped (drain deadline passed) before this item finished`);
    for (const entry of this.#queue.drain()) this.#settleDead(entry, err());
    this.counters.queueDepth = 0;
    for (const [entry, timer] of this.#delayed) {
      timer.clear();
      this.#settleDead(entry, err());
    }
    this.#delayed.clear();
    this.counters.delayed = 0;
    for (const entry of this.#slots) if (entry !== undefined) this.#settleDead(entry, err());
    this.#abort.abort(new DeadError(`task ${this.name} is stopping`));
    this.#releaseParked();
  }

  #settleDead(entry: Entry<Item, Result>, err: DeadError): void {
    if (entry.done) return;
    entry.done = true;
    this.counters.rejected!++;
    entry.reject(err);
  }

  #isIdle(): boolean {
    return this.#running === 0 && this.#queue.length === 0 && this.#delayed.size === 0;
  }
}

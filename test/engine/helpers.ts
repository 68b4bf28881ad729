// Test helpers for the engine: manifolds whose workers the test controls and whose starts
// and stops are written to one shared log, so tests can assert order and counts.

import { startWorker, type Worker } from '../../src/core/index.js';
import { Engine, type EngineOptions, type Manifold, type StartContext } from '../../src/engine/index.js';
import { TestClock } from '../../src/testing/index.js';

export interface ControlledWorker extends Worker {
  readonly name: string;
  readonly generation: number;
  /** Make the worker stop by itself with `err`. */
  fail(err: unknown): void;
  /** Make the worker stop cleanly by itself. */
  finish(): void;
  report(): unknown;
}

export interface Plan {
  inputs?: string[];
  /** Runs inside start before the worker is made; throw to fail the start. */
  before?: (ctx: StartContext, attempt: number) => void | Promise<void>;
  /** Called when the worker is killed; the stop completes when it returns/resolves (reject to stop with an error). */
  onKill?: () => void | Promise<void>;
  output?: boolean;
  filter?: (err: unknown) => unknown;
}

/** Creates manifolds that log `start <name>` / `stop <name>` and hand their workers to the test. */
export class Fleet {
  readonly log: string[] = [];
  readonly attempts = new Map<string, number>();
  readonly workers = new Map<string, ControlledWorker>();
  readonly startedAt = new Map<string, number[]>();
  readonly contexts = new Map<string, StartContext>();

  constructor(readonly clock: TestClock) {}

  manifold(name: string, plan: Plan = {}): Manifold {
    const m: Manifold = {
      inputs: plan.inputs ?? [],
      start: async (ctx) => {
        const attempt = (this.attempts.get(name) ?? 0) + 1;
        this.attempts.set(name, attempt);
        this.contexts.set(name, ctx);
        if (plan.before) await plan.before(ctx, attempt);
        const worker = this.#worker(name, plan);
        this.workers.set(name, worker);
        this.log.push(`start ${name}`);
        const times = this.startedAt.get(name) ?? [];
        times.push(this.clock.now());
        this.startedAt.set(name, times);
        return worker;
      },
    };
    if (plan.output !== false) m.output = (w) => ({ name, generation: (w as ControlledWorker).generation });
    if (plan.filter) m.filter = plan.filter;
    return m;
  }

  running(name: string): boolean {
    return this.log.filter((l) => l === `start ${name}`).length > this.log.filter((l) => l === `stop ${name}`).length;
  }

  #worker(name: string, plan: Plan): ControlledWorker {
    let fail!: (err: unknown) => void;
    let finish!: () => void;
    const log = this.log;
    const w = startWorker(
      (signal) =>
        new Promise<void>((resolve, reject) => {
          fail = (err) => {
            log.push(`stop ${name}`);
            reject(err);
          };
          finish = () => {
            log.push(`stop ${name}`);
            resolve();
          };
          signal.addEventListener(
            'abort',
            () => {
              Promise.resolve(plan.onKill?.()).then(
                () => {
                  log.push(`stop ${name}`);
                  resolve();
                },
                (err: unknown) => {
                  log.push(`stop ${name}`);
                  reject(err);
                },
              );
            },
            { once: true },
          );
        }),
    );
    const generation = this.attempts.get(name) ?? 0;
    return Object.assign(w, {
      name,
      generation,
      fail: (err: unknown) => fail(err),
      finish: () => finish(),
      report: () => ({ generation }),
    });
  }
}

/** A promise with its resolve and reject exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A TestClock, an Engine on it and a Fleet. Defaults chosen for readable timings: no fuzz,
 * bounceDelayMs 10, errorDelayMs 1000; `options` override them.
 */
export function setup(options: EngineOptions = {}): { clock: TestClock; engine: Engine; fleet: Fleet } {
  const clock = options.clock instanceof TestClock ? options.clock : new TestClock();
  const engine = new Engine({ fuzz: 0, bounceDelayMs: 10, errorDelayMs: 1000, ...options, clock });
  return { clock, engine, fleet: new Fleet(clock) };
}

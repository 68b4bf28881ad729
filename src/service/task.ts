// Task: one part of a Service, in sparts' shape. A task declares its dependencies, options,
// and worker count as statics, and has four lifecycle hooks plus an optional run loop. The
// Service drives everything; a task never starts or stops itself.

import type { BackoffOptions } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { Catacomb } from '../core/catacomb.js';
import { NotFoundError } from '../core/errors.js';
import { startWorker, type Worker } from '../core/worker.js';
import type { OptionSpecs, OptionValue } from './options.js';
import { TimingSummary } from './timing.js';
import type { Service } from './service.js';
import { kMachinery, kStopSignal, superviseLoops } from './internal.js';

export type TaskState =
  | 'created'
  | 'initializing'
  | 'initialized'
  | 'starting'
  | 'running'
  | 'restarting'
  | 'stopping'
  | 'stopped'
  | 'failed'
  | 'skipped';

/** What the Service hands a task at construction. */
export interface TaskContext {
  service: Service;
  /** The task's name: its class name. */
  name: string;
  /** Flag prefix: `static prefix` or the kebab case of the name. */
  prefix: string;
  options: Readonly<Record<string, OptionValue | undefined>>;
  clock: Clock;
  logger: Logger;
}

/** A task class as `new Service({ tasks })` and `getTask` take it. */
export type TaskClass<T extends Task = Task> = (abstract new (ctx: TaskContext) => T) & {
  readonly name: string;
  deps?: readonly TaskClass[];
  workers?: number;
  loopless?: boolean;
  restartable?: boolean;
  restart?: RestartPolicy;
  prefix?: string;
  optionSpecs(): OptionSpecs;
};

/** How a restartable task's loops are restarted (a Supervisor's intensity and backoff). */
export interface RestartPolicy {
  /** More restarts than this within `periodMs` fails the service. Default 5. */
  intensity?: number;
  /** Default 60 000 ms. */
  periodMs?: number;
  /** Default the Supervisor's: 100 ms, doubling, up to 30 s, ±10%, reset after 30 s of stable running. */
  backoff?: BackoffOptions;
}

export type Counters = Record<string, number>;

export class Task {
  /** Tasks that must be initialised and started before this one (added if not listed). */
  static deps: readonly TaskClass[] = [];
  /** How many concurrent `run(signal)` loops the task has. Default 1. */
  static workers = 1;
  /** True: the task has only hooks, no run loop. */
  static loopless = false;
  /** True: a failing run loop is restarted by a Supervisor with backoff instead of failing the service. */
  static restartable = false;
  static restart: RestartPolicy = {};
  /** The task's options; merged with those its base classes declare. */
  static options: OptionSpecs = {};
  /** Flag prefix instead of the kebab case of the class name. */
  static prefix: string | undefined = undefined;

  /** Every option this class has, its base classes' first. */
  static optionSpecs(): OptionSpecs {
    const chain: OptionSpecs[] = [];
    for (let c: object | null = this; c !== null && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
      if (Object.prototype.hasOwnProperty.call(c, 'options')) chain.unshift((c as { options: OptionSpecs }).options);
    }
    return Object.assign({}, ...chain) as OptionSpecs;
  }

  readonly name: string;
  readonly service: Service;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Option values in effect (flags over environment over defaults). */
  readonly options: Readonly<Record<string, OptionValue | undefined>>;
  /** Plain numbers the task keeps about itself; exported at /status and /metrics. */
  readonly counters: Counters = {};
  /** Durations of the task's units of work (executions, items). */
  readonly timing = new TimingSummary();
  state: TaskState = 'created';
  /** The error that failed this task, if one did. */
  lastError: Error | undefined;
  readonly #stop = new AbortController();

  constructor(ctx: TaskContext) {
    this.name = ctx.name;
    this.service = ctx.service;
    this.clock = ctx.clock;
    this.logger = ctx.logger;
    this.options = ctx.options;
  }

  /** Aborted when the service asks this task to stop. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** The value of a declared option; throws NotFoundError for an undeclared one. */
  option<T extends OptionValue>(name: string): T {
    if (!(name in this.options)) throw new NotFoundError(`task ${this.name} has no option "${name}"`);
    return this.options[name] as T;
  }

  /** Called once, dependencies first. Throw SkipTask to drop the task. */
  async init(): Promise<void> {}
  /** Called once after every task's init, dependencies first; run loops begin after it. */
  async start(): Promise<void> {}
  /** Called on the way down, dependents first; the task's signal is already aborted. */
  async stop(): Promise<void> {}
  /** Called after every task's stop, dependents first, once this task's loops have ended. */
  async join(): Promise<void> {}
  /** The task's loop (`static workers` of them at once). Return when `signal` aborts. */
  async run(_signal: AbortSignal): Promise<void> {}

  /** Conditions worth a look that do not make the task unhealthy; shown at /status. */
  warnings(): string[] {
    return [];
  }

  /** The running part of the task, started after `start()`; killed before `stop()`. */
  [kMachinery](): Worker | undefined {
    const cls = this.constructor as TaskClass;
    if (cls.loopless) return undefined;
    const workers = Math.max(1, cls.workers ?? 1);
    if (cls.restartable) return superviseLoops(this, workers, cls.restart ?? {}, (signal) => this.run(signal));
    return Catacomb.invoke({
      work: async (c) => {
        const loops: Worker[] = [];
        for (let i = 0; i < workers; i++) loops.push(startWorker((signal) => this.run(signal)));
        for (const w of loops) c.add(w);
        await Promise.allSettled(loops.map((w) => w.wait()));
      },
    });
  }

  [kStopSignal](): AbortController {
    return this.#stop;
  }
}

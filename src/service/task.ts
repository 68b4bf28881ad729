// Task: one part of a Service, in sparts' shape. A task declares its dependencies, options,
// and worker count as statics, and has four lifecycle hooks plus an optional run loop. The
// Service drives everything; a task never starts or stops itself. What the Service knows about
// a task (its state, the error that failed it, its stop signal) lives in the Service's record
// of it, as a Supervisor keeps a ChildRecord; the task reads it through its context, and
// nothing outside the task writes into it.

import type { BackoffOptions } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { NotFoundError } from '../core/errors.js';
import type { OptionSpecs, OptionValue } from './options.js';
import { TimingSummary } from './timing.js';
import type { Service } from './service.js';

export type TaskState =
  'created' | 'initializing' | 'initialized' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed' | 'skipped';

/** What the Service hands a task at construction: read-only, and live (state and error follow the Service's record). */
export interface TaskContext {
  readonly service: Service;
  /** The task's name: its class name. */
  readonly name: string;
  /** Flag prefix: `static prefix` or the kebab case of the name. */
  readonly prefix: string;
  readonly options: Readonly<Record<string, OptionValue | undefined>>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Aborted when the service asks this task to stop. */
  readonly signal: AbortSignal;
  /** The task's state as the Service records it. */
  state(): TaskState;
  /** The error that failed the task, or the last one that restarted its loops, as the Service records it. */
  error(): Error | undefined;
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
  /** How many concurrent `run(signal)` loops the task has (a `workers` option, as QueueTask declares, overrides it). Default 1. */
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
  readonly #ctx: TaskContext;
  #runError: Error | undefined;

  constructor(ctx: TaskContext) {
    this.#ctx = ctx;
    this.name = ctx.name;
    this.service = ctx.service;
    this.clock = ctx.clock;
    this.logger = ctx.logger;
    this.options = ctx.options;
  }

  /** Where the task is in its life, as the Service records it. */
  get state(): TaskState {
    return this.#ctx.state();
  }

  /** The error that failed (or restarted) this task; else the last error the task noted itself (a failed run). */
  get lastError(): Error | undefined {
    return this.#ctx.error() ?? this.#runError;
  }

  /** Aborted when the service asks this task to stop. */
  get signal(): AbortSignal {
    return this.#ctx.signal;
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

  /** Records an error the task handled itself (a failed run that did not stop it); shown as lastError. */
  protected noteError(err: Error): void {
    this.#runError = err;
  }
}

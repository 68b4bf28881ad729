// Service: a set of tasks run as one Worker, in sparts' model. Tasks are created in the
// constructor (so getTask works at once); then every init (dependencies first), every start,
// the run loops; on the way down every stop, then every join, in reverse start order. Any
// unhandled task error stops the whole service with that error: there are no zombie services.

import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { AlreadyExistsError, DeadError, NotFoundError, isAbortLike, toError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { quiet, type Worker } from '../core/worker.js';
import { DependencyCycleError, OptionError, SkipTask, TaskInitError } from './errors.js';
import { kMachinery, kStopSignal } from './internal.js';
import { formatHelp, kebab, resolveOptions, type OptionGroup, type OptionValue } from './options.js';
import type { Task, TaskClass, TaskContext, TaskState } from './task.js';
import type { TimingSnapshot } from './timing.js';
import { ServiceMetrics } from './metrics.js';
import { StatusServer, type StatusAddress, type StatusOptions } from './status-server.js';

export interface ServiceOptions {
  /** Names the service in logs, /status, and the environment prefix (`my-svc` → `MY_SVC_`). */
  name: string;
  /** Task classes; their dependencies are added if not listed. */
  tasks: readonly TaskClass[];
  /** Arguments after the script. Default `process.argv.slice(2)`. */
  argv?: readonly string[];
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  logger?: Logger;
  /** Turns the status server on (`/healthz`, `/status`, `/metrics`). Default off. */
  status?: StatusOptions | true;
}

export type ServiceState = 'STARTING' | 'ALIVE' | 'WARNING' | 'STOPPING' | 'STOPPED' | 'FAILED';

export interface TaskStatus {
  state: TaskState;
  counters: Record<string, number>;
  timing: TimingSnapshot;
  lastError?: string;
}

export interface ServiceStatus {
  service: string;
  state: ServiceState;
  uptimeMs: number;
  tasks: Record<string, TaskStatus>;
  warnings: string[];
}

export interface Health {
  healthy: boolean;
  reasons: string[];
}

/** Service-level options every service has. */
const SERVICE_OPTIONS = {
  shutdownTimeout: {
    type: 'duration',
    default: 60_000,
    help: 'how long runMain waits for a graceful stop before exiting with code 1',
    min: 0,
  },
} as const;

export class Service implements Worker {
  /** A service is a tree: a supervisor waits for it to stop as long as its tasks take. */
  readonly kind = 'tree';
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** prom-client Registry of this service (not the global one); add your own metrics to it. */
  readonly metrics: ServiceMetrics;
  /** Arguments that were not flags. */
  readonly args: readonly string[];
  /** True when argv asked for --help: the service runs nothing and wait() resolves. */
  readonly helpRequested: boolean;
  /** From `--shutdown-timeout` (used by runMain). */
  readonly shutdownTimeoutMs: number;

  readonly #order: Task[] = [];
  readonly #byClass = new Map<TaskClass, Task>();
  readonly #groups: OptionGroup[];
  readonly #optionErrors: OptionError[];
  readonly #skipped = new Set<Task>();
  readonly #machinery = new Map<Task, Worker>();
  readonly #stopping = new AbortController();
  readonly #status: StatusServer | undefined;
  readonly #done: Promise<void>;
  #startupDone!: (err: Error | undefined) => void;
  readonly #startup: Promise<void>;
  #state: ServiceState = 'STARTING';
  #error: Error | undefined;
  #startedAt: number;

  constructor(opts: ServiceOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.#startedAt = this.clock.now();
    const classes = dependencyOrder(opts.tasks);
    this.#groups = [{ title: 'service', prefix: '', specs: SERVICE_OPTIONS }];
    const prefixes = new Map<string, string>();
    for (const cls of classes) {
      const prefix = cls.prefix ?? kebab(cls.name);
      const other = prefixes.get(prefix);
      if (other !== undefined) throw new AlreadyExistsError(`tasks ${other} and ${cls.name} both use the flag prefix "${prefix}"; set static prefix on one`);
      prefixes.set(prefix, cls.name);
      this.#groups.push({ title: cls.name, prefix, specs: cls.optionSpecs() });
    }
    const resolved = resolveOptions(this.name, this.#groups, opts.argv ?? process.argv.slice(2), opts.env ?? process.env);
    this.#optionErrors = resolved.errors;
    this.helpRequested = resolved.help;
    this.args = resolved.positional;
    this.shutdownTimeoutMs = resolved.values.get('service')!.shutdownTimeout as number;
    for (const cls of classes) {
      const ctx: TaskContext = {
        service: this,
        name: cls.name,
        prefix: cls.prefix ?? kebab(cls.name),
        options: Object.freeze({ ...(resolved.values.get(cls.name) as Record<string, OptionValue | undefined>) }),
        clock: this.clock,
        logger: this.logger,
      };
      const task = new (cls as unknown as new (ctx: TaskContext) => Task)(ctx);
      this.#order.push(task);
      this.#byClass.set(cls, task);
    }
    this.metrics = new ServiceMetrics(this);
    this.#status = opts.status === undefined ? undefined : new StatusServer(this, opts.status === true ? {} : opts.status);
    this.#startup = quiet(
      new Promise<void>((resolve, reject) => {
        this.#startupDone = (err) => (err === undefined ? resolve() : reject(err));
      }),
    );
    this.#done = quiet(this.#main());
  }

  /** The instance of `cls`; throws NotFoundError for a task not in the service or skipped. */
  getTask<T extends Task>(cls: TaskClass<T>): T {
    const task = this.#byClass.get(cls as TaskClass);
    if (task === undefined) throw new NotFoundError(`service ${this.name} has no task ${cls.name}`);
    if (this.#skipped.has(task)) throw new NotFoundError(`task ${cls.name} was skipped`);
    return task as T;
  }

  /** Every task not skipped, dependencies first. */
  tasks(): Task[] {
    return this.#order.filter((t) => !this.#skipped.has(t));
  }

  get state(): ServiceState {
    if (this.#state === 'ALIVE' && this.#warnings().length > 0) return 'WARNING';
    return this.#state;
  }

  /** Resolves `{ host, port }` once the status server listens; rejects if it is off or failed. */
  statusAddress(): Promise<StatusAddress> {
    if (this.#status === undefined) return Promise.reject(new NotFoundError(`service ${this.name} has no status server (pass status: {})`));
    return this.#status.address();
  }

  /** `--help` text: the service's and every task's options, grouped by task. */
  helpText(): string {
    return formatHelp(this.name, this.#groups);
  }

  kill(): void {
    if (!this.#stopping.signal.aborted) this.#stopping.abort();
  }

  wait(): Promise<void> {
    return this.#done;
  }

  /**
   * Resolves once every task's `start` hook ran (the service is ALIVE), so a Supervisor that
   * has the service as a child starts the next sibling only then; rejects with the error
   * that stopped the service if it failed before (a bad option, a failed init or start), or
   * with a DeadError if it was killed first. With `--help` it resolves: nothing is to start.
   */
  started(): Promise<void> {
    return this.#startup;
  }

  status(): ServiceStatus {
    const tasks: Record<string, TaskStatus> = {};
    for (const t of this.#order) {
      const entry: TaskStatus = { state: t.state, counters: { ...t.counters }, timing: t.timing.snapshot() };
      if (t.lastError !== undefined) entry.lastError = t.lastError.message;
      tasks[t.name] = entry;
    }
    return { service: this.name, state: this.state, uptimeMs: this.clock.now() - this.#startedAt, tasks, warnings: this.#warnings() };
  }

  /** Healthy only when every task started and none failed (or waits for a restart). */
  health(): Health {
    const reasons: string[] = [];
    if (this.#state !== 'ALIVE') reasons.push(`service is ${this.#state}`);
    for (const t of this.tasks()) {
      if (t.state !== 'running') reasons.push(`${t.name} is ${t.state}${t.lastError ? `: ${t.lastError.message}` : ''}`);
    }
    return { healthy: reasons.length === 0, reasons };
  }

  #warnings(): string[] {
    const out: string[] = [];
    for (const t of this.tasks()) for (const w of t.warnings()) out.push(`${t.name}: ${w}`);
    return out;
  }

  #fail(err: unknown, task?: Task): void {
    const e = toError(err);
    if (task !== undefined) {
      task.state = 'failed';
      task.lastError = e;
    }
    if (this.#error === undefined) {
      this.#error = e;
      this.logger.error({ service: this.name, task: task?.name, err: e }, `service failing: ${e.message}`);
    }
    this.kill();
  }

  async #main(): Promise<void> {
    if (this.helpRequested) {
      this.#state = 'STOPPED';
      this.#startupDone(undefined);
      await this.#status?.close();
      return;
    }
    if (this.#optionErrors.length > 0) {
      this.#state = 'FAILED';
      await this.#status?.close();
      const errs = this.#optionErrors;
      const err = errs.length === 1 ? errs[0]! : new OptionError(errs.map((e) => e.message).join('; '), { cause: errs[0] });
      this.#startupDone(err);
      throw err;
    }
    let inited: Task[] = [];
    try {
      if (this.#status !== undefined) await this.#status.listen();
      inited = await this.#initAll();
      if (this.#error === undefined) await this.#startAll(inited);
      if (this.#error === undefined && !this.#stopping.signal.aborted) {
        this.#state = 'ALIVE';
        this.logger.info({ service: this.name }, 'service started');
        this.#startupDone(undefined);
      }
      await untilAborted(this.#stopping.signal);
    } catch (err) {
      this.#fail(err);
    }
    this.#state = 'STOPPING';
    await this.#stopAll(inited);
    // Tasks that never finished init still get their signal, so nothing they hold waits forever.
    for (const task of this.#order) task[kStopSignal]().abort();
    if (this.#status !== undefined) await this.#status.close();
    this.#state = this.#error === undefined ? 'STOPPED' : 'FAILED';
    // A service that never became ALIVE failed to start (a second settle is a no-op).
    this.#startupDone(this.#error ?? new DeadError(`service ${this.name} was stopped before it had started`));
    this.logger.info({ service: this.name, err: this.#error }, this.#error === undefined ? 'service stopped' : 'service failed');
    if (this.#error !== undefined) throw this.#error;
  }

  async #initAll(): Promise<Task[]> {
    const inited: Task[] = [];
    const failures = new Map<string, Error>();
    for (const task of this.#order) {
      if (this.#stopping.signal.aborted) break;
      task.state = 'initializing';
      try {
        await task.init();
        task.state = 'initialized';
        inited.push(task);
      } catch (err) {
        if (err instanceof SkipTask) {
          task.state = 'skipped';
          this.#skipped.add(task);
          this.logger.info({ service: this.name, task: task.name, reason: err.message }, `task ${task.name} skipped: ${err.message}`);
        } else {
          task.state = 'failed';
          task.lastError = toError(err);
          failures.set(task.name, task.lastError);
        }
      }
    }
    if (failures.size > 0) this.#fail(new TaskInitError(failures));
    return inited;
  }

  async #startAll(inited: Task[]): Promise<void> {
    for (const task of inited) {
      if (this.#stopping.signal.aborted) return;
      task.state = 'starting';
      try {
        await task.start();
      } catch (err) {
        this.#fail(err, task);
        return;
      }
      task.state = 'running';
      const machinery = task[kMachinery]();
      if (machinery === undefined) continue;
      this.#machinery.set(task, machinery);
      machinery.wait().then(
        () => {
          if (!this.#stopping.signal.aborted) this.logger.debug({ service: this.name, task: task.name }, 'task loops finished');
        },
        (err: unknown) => {
          if (task[kStopSignal]().signal.aborted && isAbortLike(err)) return;
          this.#fail(err, task);
        },
      );
    }
  }

  async #stopAll(inited: Task[]): Promise<void> {
    const down = [...inited].reverse();
    for (const task of down) {
      if (task.state !== 'failed') task.state = 'stopping';
      task[kStopSignal]().abort();
      this.#machinery.get(task)?.kill();
      try {
        await task.stop();
      } catch (err) {
        this.#fail(err, task);
      }
    }
    for (const task of down) {
      await this.#machinery.get(task)?.wait().catch(() => {}); // its error was already reported
      try {
        await task.join();
      } catch (err) {
        this.#fail(err, task);
      }
      if (task.state !== 'failed') task.state = 'stopped';
    }
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Every class and its dependencies, dependencies first; throws naming a cycle. */
function dependencyOrder(tasks: readonly TaskClass[]): TaskClass[] {
  const order: TaskClass[] = [];
  const done = new Set<TaskClass>();
  const stack: TaskClass[] = [];
  const names = new Map<string, TaskClass>();
  const visit = (cls: TaskClass) => {
    if (done.has(cls)) return;
    const at = stack.indexOf(cls);
    if (at !== -1) throw new DependencyCycleError([...stack.slice(at), cls].map((c) => c.name));
    const same = names.get(cls.name);
    if (same !== undefined && same !== cls) throw new AlreadyExistsError(`two different task classes are named ${cls.name}`);
    names.set(cls.name, cls);
    stack.push(cls);
    for (const dep of cls.deps ?? []) visit(dep);
    stack.pop();
    done.add(cls);
    order.push(cls);
  };
  for (const cls of tasks) visit(cls);
  return order;
}

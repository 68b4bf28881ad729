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
import { dependencyOrder as orderByDependencies } from '../core/graph.js';
import { DependencyCycleError, OptionError, SkipTask, TaskInitError } from './errors.js';
import { formatHelp, kebab, resolveOptions, type OptionGroup, type OptionValue } from './options.js';
import { createTask, startLoops, type TaskRecord } from './record.js';
import type { Task, TaskClass, TaskState } from './task.js';
import type { Reporter } from '../core/reporter.js';
import type { TimingSnapshot } from './timing.js';
import { ServiceMetrics } from './metrics.js';
import { StatusServer, type StatusAddress, type StatusOptions } from './status-server.js';

export interface ServiceOptions {
  /** Names the service in logs, /status, and the environment prefix (`my-svc` → `MY_SVC_`). */
  name: string;
  /** Task classes; their dependencies are added if not listed. */
  tasks: readonly TaskClass[];
  /**
   * The arguments after the script that carry this service's flags. runMain passes
   * `process.argv.slice(2)`; a Service embedded in another program reads only the argv it is
   * given, and none when this is left out (the host's own flags are not its business).
   */
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

export class Service implements Worker, Reporter {
  /** A service is a tree: a supervisor waits for it to stop as long as its tasks take. */
  readonly kind = 'tree';
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  #metrics: ServiceMetrics | undefined;
  /** Arguments that were not flags. */
  readonly args: readonly string[];
  /** True when argv asked for --help: the service runs nothing and wait() resolves. */
  readonly helpRequested: boolean;
  /** From `--shutdown-timeout` (used by runMain). */
  readonly shutdownTimeoutMs: number;

  /** One record per task, dependencies first. */
  readonly #records: TaskRecord[] = [];
  readonly #byClass = new Map<TaskClass, TaskRecord>();
  readonly #groups: OptionGroup[];
  readonly #optionErrors: OptionError[];
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
      if (other !== undefined)
        throw new AlreadyExistsError(`tasks ${other} and ${cls.name} both use the flag prefix "${prefix}"; set static prefix on one`);
      prefixes.set(prefix, cls.name);
      this.#groups.push({ title: cls.name, prefix, specs: cls.optionSpecs() });
    }
    const resolved = resolveOptions(this.name, this.#groups, opts.argv ?? [], opts.env ?? process.env);
    this.#optionErrors = resolved.errors;
    this.helpRequested = resolved.help;
    this.args = resolved.positional;
    this.shutdownTimeoutMs = resolved.values.get('service')!.shutdownTimeout as number;
    for (const cls of classes) {
      const record = createTask(cls, {
        service: this,
        prefix: cls.prefix ?? kebab(cls.name),
        options: Object.freeze({ ...(resolved.values.get(cls.name) as Record<string, OptionValue | undefined>) }),
        clock: this.clock,
        logger: this.logger,
      });
      this.#records.push(record);
      this.#byClass.set(cls, record);
    }
    this.#status = opts.status === undefined ? undefined : new StatusServer(this, opts.status === true ? {} : opts.status);
    this.#startup = quiet(
      new Promise<void>((resolve, reject) => {
        this.#startupDone = (err) => (err === undefined ? resolve() : reject(err));
      }),
    );
    this.#done = quiet(this.#main());
  }

  /** The service's metrics: a prom-client Registry of its own (not the global one); add your own metrics to it. */
  get metrics(): ServiceMetrics {
    return (this.#metrics ??= new ServiceMetrics(this));
  }

  /** The instance of `cls`; throws NotFoundError for a task not in the service or skipped. */
  getTask<T extends Task>(cls: TaskClass<T>): T {
    const record = this.#byClass.get(cls as TaskClass);
    if (record === undefined) throw new NotFoundError(`service ${this.name} has no task ${cls.name}`);
    if (record.skipped) throw new NotFoundError(`task ${cls.name} was skipped`);
    return record.task as T;
  }

  /** Every task not skipped, dependencies first. */
  tasks(): Task[] {
    return this.#records.filter((r) => !r.skipped).map((r) => r.task);
  }

  get state(): ServiceState {
    if (this.#state === 'ALIVE' && this.#warnings().length > 0) return 'WARNING';
    return this.#state;
  }

  /**
   * Resolves `{ host, port }` once the status server listens. Rejects with NotFoundError when it
   * is off, with the bind error when it cannot listen, and with the error that stopped the
   * service (an OptionError, say) when the service stopped before the server listened.
   */
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
    for (const r of this.#records) {
      const t = r.task;
      const counters = r.cls.restartable ? { ...t.counters, restarts: r.restarts } : { ...t.counters };
      const entry: TaskStatus = { state: r.state, counters, timing: t.timing.snapshot() };
      const lastError = t.lastError;
      if (lastError !== undefined) entry.lastError = lastError.message;
      tasks[t.name] = entry;
    }
    return { service: this.name, state: this.state, uptimeMs: this.clock.now() - this.#startedAt, tasks, warnings: this.#warnings() };
  }

  /** Reporter: the same as status(). */
  report(): ServiceStatus {
    return this.status();
  }

  /** Healthy only when every task started and none failed (or waits for a restart). */
  health(): Health {
    const reasons: string[] = [];
    if (this.#state !== 'ALIVE') reasons.push(`service is ${this.#state}`);
    for (const r of this.#records) {
      if (r.skipped || r.state === 'running') continue;
      const err = r.task.lastError;
      reasons.push(`${r.task.name} is ${r.state}${err ? `: ${err.message}` : ''}`);
    }
    return { healthy: reasons.length === 0, reasons };
  }

  #warnings(): string[] {
    const out: string[] = [];
    for (const t of this.tasks()) for (const w of t.warnings()) out.push(`${t.name}: ${w}`);
    return out;
  }

  #fail(err: unknown, record?: TaskRecord): void {
    const e = toError(err);
    if (record !== undefined) {
      record.state = 'failed';
      record.error = e;
    }
    if (this.#error === undefined) {
      this.#error = e;
      this.logger.error({ service: this.name, task: record?.task.name, err: e }, `service failing: ${e.message}`);
    }
    this.kill();
  }

  async #main(): Promise<void> {
    if (this.helpRequested) {
      this.#state = 'STOPPED';
      this.#startupDone(undefined);
      await this.#status?.close(new DeadError(`service ${this.name} only printed --help; its status server never listened`));
      return;
    }
    if (this.#optionErrors.length > 0) {
      this.#state = 'FAILED';
      const errs = this.#optionErrors;
      const err = errs.length === 1 ? errs[0]! : new OptionError(errs.map((e) => e.message).join('; '), { cause: errs[0] });
      this.#startupDone(err);
      await this.#status?.close(err);
      throw err;
    }
    let inited: TaskRecord[] = [];
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
    for (const r of this.#records) r.stop.abort();
    if (this.#status !== undefined)
      await this.#status.close(this.#error ?? new DeadError(`service ${this.name} stopped before its status server listened`));
    this.#state = this.#error === undefined ? 'STOPPED' : 'FAILED';
    // A service that never became ALIVE failed to start (a second settle is a no-op).
    this.#startupDone(this.#error ?? new DeadError(`service ${this.name} was stopped before it had started`));
    this.logger.info({ service: this.name, err: this.#error }, this.#error === undefined ? 'service stopped' : 'service failed');
    if (this.#error !== undefined) throw this.#error;
  }

  async #initAll(): Promise<TaskRecord[]> {
    const inited: TaskRecord[] = [];
    const failures = new Map<string, Error>();
    for (const r of this.#records) {
      if (this.#stopping.signal.aborted) break;
      r.state = 'initializing';
      try {
        await r.task.init();
        r.state = 'initialized';
        inited.push(r);
      } catch (err) {
        if (err instanceof SkipTask) {
          r.state = 'skipped';
          r.skipped = true;
          this.logger.info({ service: this.name, task: r.task.name, reason: err.message }, `task ${r.task.name} skipped: ${err.message}`);
        } else {
          r.state = 'failed';
          r.error = toError(err);
          failures.set(r.task.name, r.error);
        }
      }
    }
    if (failures.size > 0) this.#fail(new TaskInitError(failures));
    return inited;
  }

  async #startAll(inited: TaskRecord[]): Promise<void> {
    for (const r of inited) {
      if (this.#stopping.signal.aborted) return;
      r.state = 'starting';
      try {
        await r.task.start();
      } catch (err) {
        this.#fail(err, r);
        return;
      }
      r.state = 'running';
      const loops = startLoops(r);
      if (loops === undefined) continue;
      r.loops = loops;
      loops.wait().then(
        () => {
          if (!this.#stopping.signal.aborted) this.logger.debug({ service: this.name, task: r.task.name }, 'task loops finished');
        },
        (err: unknown) => {
          if (r.stop.signal.aborted && isAbortLike(err)) return;
          this.#fail(err, r);
        },
      );
    }
  }

  async #stopAll(inited: TaskRecord[]): Promise<void> {
    const down = [...inited].reverse();
    for (const r of down) {
      if (r.state !== 'failed') r.state = 'stopping';
      r.stop.abort();
      r.loops?.kill();
      try {
        await r.task.stop();
      } catch (err) {
        this.#fail(err, r);
      }
    }
    for (const r of down) {
      await r.loops?.wait().catch(() => {}); // its error was already reported
      try {
        await r.task.join();
      } catch (err) {
        this.#fail(err, r);
      }
      if (r.state !== 'failed') r.state = 'stopped';
    }
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Every class and its dependencies, dependencies first (else in the order given); throws naming a cycle. */
function dependencyOrder(tasks: readonly TaskClass[]): TaskClass[] {
  const { order, cycles } = orderByDependencies<TaskClass>(tasks, (cls) => cls.deps ?? []);
  if (cycles.length > 0) {
    const names = [...cycles[0]!, cycles[0]![0]!].map((c) => c.name);
    throw new DependencyCycleError(names, `task dependency cycle: ${names.join(' -> ')}`);
  }
  const names = new Map<string, TaskClass>();
  for (const cls of order) {
    const same = names.get(cls.name);
    if (same !== undefined) throw new AlreadyExistsError(`two different task classes are named ${cls.name}`);
    names.set(cls.name, cls);
  }
  return order;
}

// One run of one program instance: a Worker built from monitorProcess, with the program's
// readiness check, readyTimeout, activityTimeout and killTimeout, plus the one limit the
// process layer cannot judge by itself, memoryLimit, which the fleet's sampler enforces
// through `fail()`. Restarting it is the business of the Supervisor above it, never its own.

import type { Clock } from '../core/clock.js';
import { quiet, type Worker } from '../core/worker.js';
import { BosunError } from '../core/errors.js';
import {
  ActivityTimeoutError,
  ProcessExitError,
  ProcessSpawnError,
  ReadyTimeoutError,
} from '../process/errors.js';
import type { LogFileOptions } from '../process/log-file.js';
import { monitorProcess, type AdoptOptions, type MonitoredProcess, type SpawnFn } from '../process/monitor.js';
import type { LineListener } from '../process/output.js';
import type { OutputPipePaths } from '../process/output-pipes.js';
import type { ReadyCheck } from '../process/ready.js';
import type { ProgramConfig, Ready } from './config.js';
import type { Reason } from './status.js';

/** The instance's process tree used more resident memory than the program's memoryLimit. */
export class MemoryLimitError extends BosunError {
  readonly rssBytes: number;
  readonly limitBytes: number;
  constructor(name: string, rssBytes: number, limitBytes: number) {
    super('ERR_MEMORY_LIMIT', `${name} used ${rssBytes} bytes of memory, over its memoryLimit of ${limitBytes}; killed it`);
    this.rssBytes = rssBytes;
    this.limitBytes = limitBytes;
  }
}

export interface InstanceOptions {
  config: ProgramConfig;
  index: number;
  logFile: LogFileOptions;
  clock: Clock;
  spawn?: SpawnFn;
  /** Output through these named pipes, and the process outlives this one (the daemon's death). */
  outputPipes?: OutputPipePaths;
  /** Watch this running process (left by an earlier daemon) instead of spawning. */
  adopt?: AdoptOptions;
  /** Called for every line of output. */
  onLine?: LineListener;
}

/** A running (or finished) instance process; `wait()` rejects with the error kind that ended it. */
export class ProgramInstance implements Worker {
  readonly kind = 'worker' as const;
  readonly name: string;
  readonly #monitor: MonitoredProcess;
  readonly #done: Promise<void>;
  #failure: Error | undefined;

  constructor(o: InstanceOptions) {
    const cfg = o.config;
    this.name = `${cfg.name}[${o.index}]`;
    const [command, ...args] = argvOf(cfg);
    const ready = readyCheck(cfg.ready, cfg.readyTimeoutMs);
    this.#monitor = monitorProcess({
      command: command!,
      args,
      cwd: cfg.cwd,
      env: { ...process.env, ...cfg.env, BOSUN_PROGRAM: cfg.name, BOSUN_INSTANCE: String(o.index) },
      ...(cfg.activityTimeoutMs === undefined ? {} : { activityTimeoutMs: cfg.activityTimeoutMs }),
      ...(ready === undefined ? {} : { ready }),
      logFile: o.logFile,
      killSignal: cfg.killSignal,
      killGraceMs: cfg.killTimeoutMs,
      tailLines: 20,
      clock: o.clock,
      name: this.name,
      ...(o.spawn === undefined ? {} : { spawn: o.spawn }),
      ...(o.outputPipes === undefined ? {} : { outputPipes: o.outputPipes, outliveMonitor: true }),
      ...(o.adopt === undefined ? {} : { adopt: o.adopt }),
      ...(o.onLine === undefined ? {} : { onLine: o.onLine }),
    });
    this.#done = quiet(
      this.#monitor.wait().then(
        () => {
          if (this.#failure !== undefined) throw this.#failure;
        },
        (err: unknown) => {
          throw this.#failure ?? err;
        },
      ),
    );
  }

  get pid(): number | null {
    return this.#monitor.pid ?? null;
  }

  get startedAt(): number {
    return this.#monitor.startedAt;
  }

  /** The /proc start time that, with the pid, identifies the process for a later adoption. */
  get startTime(): number | undefined {
    return this.#monitor.startTime;
  }

  get adopted(): boolean {
    return this.#monitor.adopted;
  }

  reopenLog(): void {
    this.#monitor.reopenLog();
  }

  /** The log file's write error going on now, if any. */
  logError(): Error | undefined {
    return this.#monitor.logError();
  }

  /** True while the process is stopped by a signal (SIGSTOP): not running, whatever its state says. */
  isStopped(): boolean {
    return this.#monitor.isStopped();
  }

  /** How the process ended; undefined until it was reaped (or when it never started). */
  get exitInfo(): { code: number | null; signal: string | null } | undefined {
    return this.#monitor.exitInfo;
  }

  tail(): string[] {
    return this.#monitor.tail();
  }

  /** Resolves once the readiness check passed (at once without one); rejects if it ended first. */
  ready(): Promise<void> {
    return this.#monitor.ready();
  }

  /** Resolves once it is ready or has ended, whichever comes first: how long a start holds its siblings back. */
  readyOrDone(): Promise<void> {
    return Promise.race([this.#monitor.ready(), this.#done]).then(
      () => undefined,
      () => undefined,
    );
  }

  kill(_reason?: unknown): void {
    this.#monitor.kill();
  }

  /** Stops the process because of `err` (a limit the fleet judged), which `wait()` then rejects with. */
  fail(err: Error): void {
    this.#failure ??= err;
    this.#monitor.kill();
  }

  wait(): Promise<void> {
    return this.#done;
  }
}

/** The argv to spawn: the command as given, or `sh -c` around it with `shell: true`. */
export function argvOf(cfg: ProgramConfig): string[] {
  return cfg.shell ? ['/bin/sh', '-c', cfg.command.join(' ')] : cfg.command;
}

function readyCheck(ready: Ready | undefined, timeoutMs: number | undefined): ReadyCheck | undefined {
  const timeout = timeoutMs === undefined ? {} : { timeoutMs };
  switch (ready?.kind) {
    case undefined:
      return undefined;
    case 'log':
      return { log: ready.pattern, ...timeout };
    case 'http':
      return { http: ready.url, ...timeout };
    case 'message':
      return { message: true, ...timeout };
    case 'delay':
      return { delayMs: ready.ms, ...timeout };
  }
}

/** The word for what ended a run, from the kind of its error (never from its message). */
export function reasonOf(err: Error | undefined): Reason {
  if (err instanceof MemoryLimitError) return 'memory-limit';
  if (err instanceof ReadyTimeoutError) return 'ready-timeout';
  if (err instanceof ActivityTimeoutError) return 'activity-timeout';
  if (err instanceof ProcessSpawnError) return 'spawn-error';
  if (err instanceof ProcessExitError && err.signal !== null) return 'signal';
  return 'exit';
}

// One run of one program instance: a Worker built from monitorProcess, with the program's
// readiness check, readyTimeout, activityTimeout and killTimeout, plus the one limit the
// process layer cannot judge by itself, memoryLimit, which the fleet's sampler enforces
// through `fail()`. Restarting it is the business of the Supervisor above it, never its own.

import type { Clock } from '../core/clock.js';
import { quiet, type Worker } from '../core/worker.js';
import { BosunError } from '../core/errors.js';
import { ActivityTimeoutError, ProcessExitError, ProcessSpawnError, ReadyTimeoutError } from '../process/errors.js';
import type { LogFile, LogFileOptions } from '../process/log-file.js';
import { monitorProcess, type AdoptOptions, type MonitoredProcess, type SpawnFn } from '../process/monitor.js';
import type { BlockListener } from '../process/output.js';
import type { OutputPipePaths } from '../process/output-pipes.js';
import type { ReadyCheck } from '../process/ready.js';
import type { ProgramConfig, Ready } from './config.js';
import { portOf, readyUrl } from './config-ops.js';
import { HOME_ENV } from './leftovers.js';
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
  /** The instance's log writer, shared by all its runs (one writer keeps rotation and the index right). */
  logFile: LogFileOptions | LogFile;
  clock: Clock;
  spawn?: SpawnFn;
  /** Output through these named pipes, and the process outlives this one (the daemon's death). */
  outputPipes?: OutputPipePaths;
  /**
   * The fleet's home, as BOSUN_HOME in the program's environment: how a later daemon finds a
   * run of this home that its state file does not list (leftovers.ts).
   */
  home?: string;
  /** Watch this running process (left by an earlier daemon) instead of spawning. */
  adopt?: AdoptOptions;
  /** The program's listening sockets (sockets.ts): fds for 3, 4, ... and LISTEN_FDS / LISTEN_FDNAMES. */
  listen?: { fds: number[]; env: Record<string, string> };
  /** Called with each chunk's complete lines of output as one string. */
  onOutput?: BlockListener;
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
    const fds = o.listen?.fds ?? [];
    const [command, ...args] = fds.length > 0 ? withListenPid(argvOf(cfg)) : argvOf(cfg);
    const ready = readyCheck(cfg.ready, cfg.readyTimeoutMs, o.index, portOf(cfg.listen, cfg.env));
    this.#monitor = monitorProcess({
      command: command!,
      args,
      cwd: cfg.cwd,
      env: {
        ...inheritedEnv(),
        ...cfg.env,
        ...o.listen?.env,
        ...(o.home === undefined ? {} : { [HOME_ENV]: o.home }),
        BOSUN_PROGRAM: cfg.name,
        BOSUN_INSTANCE: String(o.index),
      },
      ...(fds.length === 0 ? {} : { fds }),
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
      ...(o.onOutput === undefined ? {} : { onOutput: o.onOutput }),
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

  /** SIGKILLs the whole tree now, synchronously (see MonitoredProcess.killNow). */
  killNow(): void {
    this.#monitor.killNow();
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

/**
 * sd_listen_fds(3) wants LISTEN_PID to be the program's own pid, which exists only once it is
 * spawned: a shell sets it to its own pid and execs the program in its place, keeping that pid
 * (and its fds). A command that cannot be executed then ends with the shell's exit 127 (not
 * found) or 126 (not executable) rather than a spawn error.
 */
function withListenPid(argv: string[]): string[] {
  return ['/bin/sh', '-c', 'export LISTEN_PID=$$; exec "$@"', 'bosun-listen', ...argv];
}

/** The daemon's environment without socket-activation variables meant for the daemon itself (a systemd socket unit). */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  delete env.LISTEN_PID;
  delete env[HOME_ENV]; // an outer fleet's: this one's programs are not that home's
  return env;
}

function readyCheck(
  ready: Ready | undefined,
  timeoutMs: number | undefined,
  index: number,
  port: number | string | undefined,
): ReadyCheck | undefined {
  const timeout = timeoutMs === undefined ? {} : { timeoutMs };
  switch (ready?.kind) {
    case undefined:
      return undefined;
    case 'log':
      return { log: ready.pattern, ...timeout };
    case 'http':
      return { http: readyUrl(ready.url, index, port), ...timeout };
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

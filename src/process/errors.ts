// Errors of bosun/process. Each keeps bosun's stable string `code`; the exit errors add
// `exitCode` (null when a signal ended the process) and `signal` (name, or null).

import { BosunError, TimeoutError } from '../core/errors.js';

/** A monitored process exited on its own with a non-zero status (or by a signal nobody asked for). */
export class ProcessExitError extends BosunError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines of the process's output, oldest first. */
  readonly tail: string[];
  constructor(exitCode: number | null, signal: NodeJS.Signals | null, tail: string[], what = 'process') {
    super('ERR_PROCESS_EXIT', signal !== null ? `${what} was killed by ${signal}` : `${what} exited with code ${exitCode}`);
    this.exitCode = exitCode;
    this.signal = signal;
    this.tail = tail;
  }
}

/**
 * An adopted process ended. It was not our child, so nobody can learn its exit status:
 * `exitCode` and `signal` are both null.
 */
export class AdoptedExitError extends ProcessExitError {
  constructor(pid: number, tail: string[], what = 'process') {
    super(null, null, tail, what);
    this.message = `${what} (pid ${pid}, adopted) ended; its exit status is unknown because it was not this monitor's child`;
  }
}

/** `adopt` named a process that is gone, a zombie, or a reused pid (its start time differs). */
export class AdoptError extends BosunError {
  readonly pid: number;
  readonly reason: 'gone' | 'reused';
  constructor(pid: number, startTime: number, reason: 'gone' | 'reused', actualStart?: number) {
    super(
      'ERR_ADOPT',
      reason === 'gone'
        ? `cannot adopt pid ${pid}: no such running process (it ended); start the program anew`
        : `cannot adopt pid ${pid}: it is another process now (start time ${actualStart}, expected ${startTime}); start the program anew`,
    );
    this.pid = pid;
    this.reason = reason;
  }
}

/** An `outputPipes` path is not a named pipe, or cannot be created or opened. `cause` is the system error. */
export class OutputPipeError extends BosunError {
  readonly path: string;
  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super('ERR_OUTPUT_PIPE', `output pipe ${path}: ${problem}`, options);
    this.path = path;
  }
}

/**
 * A log file could not be written (disk full, I/O error, a path that cannot be opened). The
 * program keeps running; output is dropped and counted until a retry succeeds.
 */
export class LogWriteError extends BosunError {
  readonly path: string;
  constructor(path: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('ERR_LOG_WRITE', `cannot write log ${path}: ${detail}; output is dropped (and counted) until writing works again`, {
      cause,
    });
    this.path = path;
  }
}

/** The command could not be started (not found, not executable, bad cwd). `cause` is the system error. */
export class ProcessSpawnError extends BosunError {
  constructor(command: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('ERR_PROCESS_SPAWN', `cannot start ${command}: ${detail}; check the command, its permissions and cwd`, { cause });
  }
}

/** A monitored process stayed silent past `activityTimeoutMs`, or was not ready in time. */
export class ActivityTimeoutError extends TimeoutError {
  readonly tail: string[];
  constructor(message: string, tail: string[]) {
    super(message);
    this.tail = tail;
  }
}

/** A monitored process was not ready within `ready.timeoutMs`; it was killed. */
export class ReadyTimeoutError extends TimeoutError {
  readonly tail: string[];
  constructor(message: string, tail: string[]) {
    super(message);
    this.tail = tail;
  }
}

/** The process ended (or was killed) before it became ready. */
export class NotReadyError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_READY', message, options);
  }
}

/** A pool child exited while running a call; the child is replaced. */
export class ChildDeathError extends BosunError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  constructor(exitCode: number | null, signal: NodeJS.Signals | null, message?: string) {
    super(
      'ERR_CHILD_DEATH',
      message ??
        (signal !== null
          ? `pool child was killed by ${signal} during the call`
          : `pool child exited with code ${exitCode} during the call`),
    );
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

/** `run()` refused: the pool's queue already holds `maxQueue` calls. Core's class, one for every layer. */
export { QueueFullError } from '../core/errors.js';

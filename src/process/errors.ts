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
    super(
      'ERR_PROCESS_EXIT',
      signal !== null ? `${what} was killed by ${signal}` : `${what} exited with code ${exitCode}`,
    );
    this.exitCode = exitCode;
    this.signal = signal;
    this.tail = tail;
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

/** `run()` refused: the pool's queue already holds `maxQueue` calls. */
export class QueueFullError extends BosunError {
  constructor(maxQueue: number) {
    super('ERR_QUEUE_FULL', `pool queue is full (maxQueue ${maxQueue}); retry later or raise maxQueue`);
  }
}

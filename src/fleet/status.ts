// What a fleet reports: the `status --json` body, one row per program instance, and the
// lifecycle events that `bosun run` prints one a line. Plain data, so the cli, the dashboard
// and the control socket pass it on without knowing how the fleet works.

/** Where an instance is in its life (DESIGN, cli: `status --json`). */
export type State = 'waiting' | 'starting' | 'ready' | 'running' | 'stopping' | 'stopped' | 'backoff' | 'failed' | 'standby';

/**
 * Why an instance last stopped or failed, as a word: the kind of its error, never its message.
 * `exit` and `signal` are its own doing; `command`, `watch` and `cron` are ours; `lease` is a
 * singleton stopped because its lease could not be renewed in time (fenced); the rest are
 * limits that killed it.
 */
export type Reason =
  | 'exit'
  | 'signal'
  | 'activity-timeout'
  | 'memory-limit'
  | 'ready-timeout'
  | 'command'
  | 'watch'
  | 'cron'
  | 'spawn-error'
  | 'intensity'
  | 'lease';

export interface LastExit {
  code: number | null;
  signal: string | null;
  /** ISO time of the exit. */
  at: string;
}

export interface ProgramStatus {
  name: string;
  instance: number;
  pid: number | null;
  state: State;
  /** Restarts made by the restart policy; a restart by command does not count. */
  restarts: number;
  uptimeMs: number;
  memoryBytes: number;
  cpuPercent: number;
  lastExit?: LastExit;
  reason?: Reason;
  /** The reason in a sentence, for people (the status table, the dashboard). */
  detail?: string;
  /** While `waiting`: the programs in `after` that are not ready yet. */
  waitingFor?: string[];
  /** The instance's log file cannot be written now (a full disk, say); output is dropped and counted until it can. */
  logError?: string;
  /** The process is stopped by a signal (SIGSTOP): it runs no code until it gets SIGCONT. */
  suspended?: true;
  host?: string;
}

export interface StatusBody {
  programs: ProgramStatus[];
  /**
   * The daemon's own output destinations (daemon.log, or stdout and stderr of `bosun run`) that
   * are failing now, with the lines lost so far; absent while every write succeeds.
   */
  daemonOutput?: { target: string; error: string; lost: number }[];
}

export type EventName = 'started' | 'ready' | 'exited' | 'restarting' | 'failed' | 'stopped';

/** One line of `bosun run`: `<time> <program>[<instance>] <event> <details>`. */
export interface LifecycleEvent {
  at: number;
  program: string;
  instance: number;
  event: EventName;
  details: string;
}

export function formatEvent(e: LifecycleEvent): string {
  return `${new Date(e.at).toISOString()} ${e.program}[${e.instance}] ${e.event}${e.details === '' ? '' : ` ${e.details}`}`;
}

/** Where each instance's output goes (for `bosun logs`). */
export interface LogFileRef {
  name: string;
  instance: number;
  path: string;
}

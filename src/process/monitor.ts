// monitorProcess: a Worker around one child process (launchpad's worker monitor). The child runs
// without a shell in its own session and process group, with a marker in its environment; its
// output feeds a tail ring, an optional rotating log file (byte for byte) and line listeners;
// silence past activityTimeoutMs kills it; heartbeats report its tail. kill() signals the whole
// tree (then SIGCONT, so a stopped program runs its handler), finds the tree again when the grace
// ends and SIGKILLs whatever is left, so no descendant survives. wait() settles only once the
// child is gone, its output is drained and a running heartbeat has finished.
//
// For a daemon that must not take its programs down when it dies: `outputPipes` puts the output
// through named pipes that outlive the monitor, `outliveMonitor` keeps the exit hook from killing
// the tree, and `adopt` lets the next monitor watch the same process (same pid) and read the rest.

import { spawn as spawnChild, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { closeSync } from 'node:fs';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { toError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { quiet, type Worker } from '../core/worker.js';
import {
  ActivityTimeoutError,
  AdoptedExitError,
  AdoptError,
  NotReadyError,
  OutputPipeError,
  ProcessExitError,
  ProcessSpawnError,
  ReadyTimeoutError,
  type LogWriteError,
} from './errors.js';
import { LogFile, type LogFileOptions } from './log-file.js';
import { OutputCapture, TailRing, captureLines, type BlockListener, type CaptureOptions, type LineListener } from './output.js';
import { OutputPipeReader, makeFifos, type OutputPipePaths } from './output-pipes.js';
import { watchReadiness, type ReadyCheck } from './ready.js';
import {
  TREE_ENV,
  findTree,
  forgetGroup,
  isAlive,
  isStopped as procStopped,
  killTree,
  procInfo,
  trackGroup,
  treeMarkers,
  type TreeRoot,
} from './tree.js';
import { TreeStop, sweepOrphans } from './tree-stop.js';

export interface Heartbeat {
  /** The last `tailLines` lines of output, oldest first. */
  tail: string[];
  pid: number;
  uptimeMs: number;
}

export interface ExitInfo {
  /** Exit code, or null when a signal ended the process (both null: an adopted process, status unknown). */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running process to watch instead of spawning one (see MonitorOptions.adopt). */
export interface AdoptOptions {
  pid: number;
  /** Its /proc start time (MonitoredProcess.startTime of the monitor that spawned it). */
  startTime: number;
  /** Count it as ready at once. Default true; false runs the `ready` check (a `message` check passes at once). */
  ready?: boolean;
}

export interface MonitorOptions {
  command: string;
  args?: readonly string[];
  cwd?: string;
  /** The child's whole environment (as child_process takes it), plus the tree marker. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Kill the child after this long without a byte on stdout or stderr. Default: never. */
  activityTimeoutMs?: number;
  /** Period between the end of one heartbeat and the next. Default: one heartbeat, at spawn. */
  heartbeatMs?: number;
  onHeartbeat?: (beat: Heartbeat) => Promise<void> | void;
  /** Lines kept for tail(). Default 100. */
  tailLines?: number;
  /** A line without a newline (a prompt) reaches tail() and listeners after this long. Default 200. */
  partialLineMs?: number;
  /**
   * Append output here; `{ path, maxSize, keep }` rotates by size. A LogFile is shared: several
   * monitors (the runs of one program instance) may write it, and none of them closes it.
   */
  logFile?: string | LogFileOptions | LogFile;
  /** The log file could not be written; output is dropped (counted) until it recovers. */
  onLogError?: (err: LogWriteError) => void;
  /** The log file is written again after an error; `droppedBytes` were lost (a line in the log says so). */
  onLogRecovered?: (droppedBytes: number) => void;
  /** Default 'SIGTERM'. */
  killSignal?: NodeJS.Signals;
  /** Time between killSignal and SIGKILL. Default 5000. */
  killGraceMs?: number;
  ready?: ReadyCheck;
  /** Called for every line of output. */
  onLine?: LineListener;
  /** Called with each chunk's complete lines as one string (see BlockListener): cheaper than onLine for keeping recent output. */
  onOutput?: BlockListener;
  /** Each line is logged at info with { stream, pid, name }. Default: none. */
  logger?: Logger;
  /** Used in messages and log records. Default: the command. */
  name?: string;
  clock?: Clock;
  /**
   * Starts the child; default `child_process.spawn`. A replacement (a test's fake children)
   * gets the same arguments and, besides the signals sent to the process group, hears every
   * signal meant for the child through its ChildProcess's `kill()`.
   */
  spawn?: SpawnFn;
  /**
   * Named pipes (created mode 0600 if missing) for the child's stdout and stderr instead of
   * anonymous pipes: the output outlives this monitor, and a monitor that adopts the process
   * reads the rest. See output-pipes.ts.
   */
  outputPipes?: OutputPipePaths;
  /** Watch this running process instead of spawning; throws AdoptError at once if it is gone or reused. */
  adopt?: AdoptOptions;
  /** Leave the tree running if this process exits (no exit hook). Default false: the exit hook SIGKILLs it. */
  outliveMonitor?: boolean;
  /**
   * Open file descriptors of this process that the child gets as its fds 3, 4, ... in this
   * order (listening sockets handed down the sd_listen_fds(3) way). Default: none.
   */
  fds?: readonly number[];
}

/** What `child_process.spawn` is to monitorProcess. */
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface MonitoredProcess extends Worker {
  /** The child's pid (and process group and session id); undefined only when it could not be spawned. */
  readonly pid: number | undefined;
  /** Its /proc start time in clock ticks: with pid, what `adopt` takes. Undefined without /proc or a pid. */
  readonly startTime: number | undefined;
  /** True when this monitor adopted the process rather than spawning it. */
  readonly adopted: boolean;
  /** clock.now() at spawn (or at adoption). */
  readonly startedAt: number;
  /** How the child ended; undefined until it has been reaped. */
  readonly exitInfo: ExitInfo | undefined;
  /** The last `tailLines` lines of stdout and stderr, oldest first. */
  tail(): string[];
  /** Resolves once the `ready` check passes (at once without one); rejects if the process ends first. */
  ready(): Promise<void>;
  /** Adds a line listener; returns its removal. */
  onLine(fn: LineListener): () => void;
  /** Sends an IPC message (only with `ready: { message: true }`); false when there is no channel. */
  send(message: unknown): boolean;
  /** True while the process is stopped (SIGSTOP, SIGTSTP: state T in /proc). */
  isStopped(): boolean;
  /** Closes and reopens the log file (logrotate); a no-op without one. */
  reopenLog(): void;
  /** The log file's write error going on now, if any. */
  logError(): LogWriteError | undefined;
  /**
   * SIGKILLs the whole tree now, synchronously, without waiting for anything: for a process
   * about to exit that must not leave it behind (a second Ctrl-C), even with `outliveMonitor`.
   */
  killNow(): void;
}

/** Starts `command` (or adopts `adopt.pid`) and watches it; see the file comment. */
export function monitorProcess(options: MonitorOptions): MonitoredProcess {
  return new ProcessMonitor(options);
}

/** How often an adopted process is looked for in /proc (real time: it only observes). */
let markers = 0;
/**
 * An id no other tree carries: this process, the time and a counter make it unique; the random
 * part only keeps it from being guessed. Not node:crypto, whose OpenSSL state costs a daemon
 * about 2.4 MB of resident memory for what needs no secrecy.
 */
function newMarker(): string {
  return `${process.pid.toString(36)}.${Date.now().toString(36)}.${(markers++).toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

const ADOPT_POLL_MS = 100;
const ADOPT_POLL_STOPPING_MS = 20;

class ProcessMonitor implements MonitoredProcess {
  readonly startedAt: number;
  readonly adopted: boolean;
  readonly #o: MonitorOptions;
  readonly #clock: Clock;
  readonly #name: string;
  readonly #ring: TailRing;
  readonly #listeners = new Set<LineListener>();
  readonly #log: LogFile | undefined;
  /** The log was handed in (logFile: a LogFile): written, never closed, by this monitor. */
  #sharedLog = false;
  readonly #exitAbort = new AbortController();
  #child: ChildProcess | undefined;
  #readers: OutputPipeReader[] = [];
  #captures: OutputCapture[] = [];
  #pid: number | undefined;
  #startTime: number | undefined;
  #marker: string | undefined;
  #exitInfo: ExitInfo | undefined;
  #err: Error | undefined;
  #killedClean = false;
  #terminating = false;
  #stop: TreeStop | undefined;
  #activityTimer: TimerHandle | undefined;
  #adoptPoll: NodeJS.Timeout | undefined;
  #lastActivity: number;
  #heartbeats: Promise<void> = Promise.resolve();
  #streams: Promise<unknown> = Promise.resolve();
  #settle!: (err: Error | undefined) => void;
  readonly #done: Promise<void>;
  readonly #ready: Promise<void>;
  #readyState: 'waiting' | 'ready' | 'failed' = 'waiting';
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;

  constructor(o: MonitorOptions) {
    this.#o = o;
    this.adopted = o.adopt !== undefined;
    this.#clock = o.clock ?? systemClock;
    this.#name = o.name ?? o.command;
    this.#ring = new TailRing(o.tailLines ?? 100);
    this.#done = quiet(
      new Promise<Error | undefined>((resolve) => (this.#settle = resolve)).then((err) => {
        if (err !== undefined) throw err;
      }),
    );
    this.#ready = quiet(
      new Promise<void>((resolve, reject) => {
        this.#resolveReady = resolve;
        this.#rejectReady = reject;
      }),
    );
    this.startedAt = this.#clock.now();
    this.#lastActivity = this.startedAt;
    // Before anything is opened: a process that is not there leaves nothing to clean up.
    if (o.adopt !== undefined) this.#checkAdoptable(o.adopt);
    if (o.onLine !== undefined) this.#listeners.add(o.onLine);
    const logger = o.logger;
    if (logger !== undefined) {
      this.#listeners.add((stream, line) => logger.info({ stream, pid: this.#pid, name: this.#name }, line));
    }
    if (o.logFile instanceof LogFile) {
      this.#log = o.logFile;
      this.#sharedLog = true;
    } else if (o.logFile !== undefined) {
      const fileOptions = typeof o.logFile === 'string' ? { path: o.logFile } : o.logFile;
      this.#log = new LogFile({
        clock: this.#clock,
        ...fileOptions,
        onError: (err) => {
          logger?.warn({ err, name: this.#name }, 'log file write failed; output is dropped until it works again');
          fileOptions.onError?.(err);
          o.onLogError?.(err);
        },
        onRecover: (dropped) => {
          logger?.info({ name: this.#name, droppedBytes: dropped }, 'log file written again');
          fileOptions.onRecover?.(dropped);
          o.onLogRecovered?.(dropped);
        },
      });
    }
    if (o.adopt !== undefined) {
      // A pipe that cannot be opened throws here: adoption failed, and the process was not touched.
      if (o.outputPipes !== undefined) this.#openPipes(o.outputPipes);
      this.#adopt(o.adopt);
    } else {
      this.#spawn(o);
    }
  }

  get pid(): number | undefined {
    return this.#pid;
  }
  get startTime(): number | undefined {
    return this.#startTime;
  }
  get exitInfo(): ExitInfo | undefined {
    return this.#exitInfo;
  }
  tail(): string[] {
    return this.#ring.toArray();
  }
  ready(): Promise<void> {
    return this.#ready;
  }
  onLine(fn: LineListener): () => void {
    const wrapped: LineListener = (s, l) => fn(s, l);
    this.#listeners.add(wrapped);
    return () => void this.#listeners.delete(wrapped);
  }
  send(message: unknown): boolean {
    const c = this.#child;
    if (c === undefined || !c.connected) return false;
    c.send(message as object, (err) => void err);
    return true;
  }
  isStopped(): boolean {
    return this.#pid !== undefined && this.#exitInfo === undefined && procStopped(this.#pid, this.#startTime);
  }
  reopenLog(): void {
    this.#log?.reopen();
  }
  logError(): LogWriteError | undefined {
    return this.#log?.error;
  }
  wait(): Promise<void> {
    return this.#done;
  }

  kill(_reason?: unknown): void {
    if (this.#err === undefined) this.#killedClean = true;
    this.#terminate();
  }

  killNow(): void {
    if (this.#pid === undefined || this.#exitInfo !== undefined) return;
    if (this.#err === undefined) this.#killedClean = true;
    killTree(this.#pid, 'SIGKILL', findTree(this.#root()));
  }

  #captureOptions(): CaptureOptions {
    return {
      ring: this.#ring,
      log: this.#log,
      listeners: this.#listeners,
      ...(this.#o.onOutput === undefined ? {} : { blocks: this.#o.onOutput }),
      clock: this.#clock,
      partialLineMs: this.#o.partialLineMs,
      source: () => this.#pid,
      onActivity: () => {
        this.#lastActivity = this.#clock.now();
      },
    };
  }

  /** Opens the monitor's ends of the output pipes (creating them if missing). Throws OutputPipeError. */
  #openPipes(paths: OutputPipePaths): void {
    if (paths.stdout === paths.stderr) {
      throw new OutputPipeError(paths.stdout, 'stdout and stderr need two different pipes');
    }
    makeFifos([paths.stdout, paths.stderr]);
    const options = this.#captureOptions();
    try {
      for (const name of ['stdout', 'stderr'] as const) {
        const capture = new OutputCapture(name, options);
        this.#captures.push(capture);
        this.#readers.push(new OutputPipeReader(paths[name], (chunk) => capture.write(chunk)));
      }
    } catch (err) {
      this.#closeReaders();
      throw err;
    }
  }

  #spawn(o: MonitorOptions): void {
    const wantsIpc = o.ready !== undefined && 'message' in o.ready;
    const childEnds: number[] = [];
    let stdio: StdioOptions;
    if (o.outputPipes !== undefined) {
      try {
        this.#openPipes(o.outputPipes);
        for (const r of this.#readers) childEnds.push(r.openChildEnd());
      } catch (err) {
        for (const fd of childEnds) closeSync(fd);
        this.#failStart(toError(err));
        return;
      }
      stdio = ['ignore', childEnds[0]!, childEnds[1]!];
    } else {
      stdio = ['ignore', 'pipe', 'pipe'];
    }
    // Handed-down fds come right after stderr (3, 4, ...); an IPC channel goes after them.
    stdio.push(...(o.fds ?? []));
    if (wantsIpc) stdio.push('ipc');
    // The marker lets a later scan find descendants that left the group and session (tree.ts).
    this.#marker = newMarker();
    const env = { ...(o.env ?? process.env) };
    const inherited = env[TREE_ENV];
    env[TREE_ENV] = inherited ? `${inherited},${this.#marker}` : this.#marker;
    let child: ChildProcess;
    try {
      child = (o.spawn ?? spawnChild)(o.command, o.args ?? [], { cwd: o.cwd, env, stdio, detached: true, windowsHide: true });
    } catch (err) {
      this.#failStart(new ProcessSpawnError(o.command, err));
      return;
    } finally {
      // The child has its own copies now (or never will): ours would keep a writer open for good.
      for (const fd of childEnds) closeSync(fd);
    }
    this.#child = child;
    this.#pid = child.pid;
    if (this.#pid === undefined) {
      // Spawn failed; node reports why with an 'error' event on the next tick.
      child.once('error', (err) => this.#failStart(new ProcessSpawnError(o.command, err)));
      return;
    }
    child.on('error', () => {}); // later errors (a failed kill of a dead child) are not the child's failure
    // Not yet reaped (that needs our event loop), so /proc has it even if it already exited.
    this.#startTime = procInfo(this.#pid)?.startTime;
    if (o.outliveMonitor !== true) trackGroup(this.#pid, this.#root());
    if (o.outputPipes === undefined) {
      const capture = this.#captureOptions();
      this.#streams = Promise.all([captureLines(child.stdout!, 'stdout', capture), captureLines(child.stderr!, 'stderr', capture)]);
    }
    child.once('exit', (code, signal) => void this.#onExit(code, signal));
    this.#watch(child);
  }

  #checkAdoptable(a: AdoptOptions): void {
    const info = procInfo(a.pid);
    if (info === undefined || info.state === 'Z' || info.state === 'X') throw new AdoptError(a.pid, a.startTime, 'gone');
    if (info.startTime !== a.startTime) throw new AdoptError(a.pid, a.startTime, 'reused', info.startTime);
  }

  #adopt(a: AdoptOptions): void {
    this.#pid = a.pid;
    this.#startTime = a.startTime;
    // The id the spawning monitor appended last; older ones belong to monitors above it.
    this.#marker = treeMarkers(a.pid).at(-1);
    if (this.#o.outliveMonitor !== true) trackGroup(a.pid, this.#root());
    const poll = () => {
      this.#adoptPoll = undefined;
      if (this.#exitInfo !== undefined) return;
      if (!isAlive(a.pid, a.startTime)) {
        void this.#onExit(null, null);
        return;
      }
      this.#adoptPoll = setTimeout(poll, this.#terminating ? ADOPT_POLL_STOPPING_MS : ADOPT_POLL_MS);
    };
    this.#adoptPoll = setTimeout(poll, ADOPT_POLL_MS);
    this.#watch(undefined);
  }

  /** Activity, heartbeats and readiness: the same for a spawned and an adopted process. */
  #watch(child: ChildProcess | undefined): void {
    const o = this.#o;
    if (o.activityTimeoutMs !== undefined) this.#armActivity(o.activityTimeoutMs);
    if (o.onHeartbeat !== undefined) this.#heartbeats = this.#heartbeatLoop(o.onHeartbeat, o.heartbeatMs);
    this.#watchReady(child);
  }

  #root(): TreeRoot {
    return { pid: this.#pid!, startTime: this.#startTime, marker: this.#marker };
  }

  /** Records the worker's error if it is the first (and no clean kill came before it). */
  #fail(err: Error): void {
    if (this.#err !== undefined || this.#killedClean) return;
    this.#err = err;
  }

  #terminate(): void {
    if (this.#terminating || this.#exitInfo !== undefined || this.#pid === undefined) return;
    this.#terminating = true;
    this.#activityTimer?.clear();
    const child = this.#child;
    this.#stop = new TreeStop({
      root: this.#root(),
      signal: this.#o.killSignal ?? 'SIGTERM',
      graceMs: this.#o.killGraceMs ?? 5000,
      clock: this.#clock,
      // A replaced spawn's children are not real processes: they hear signals through kill().
      signalRoot:
        this.#o.spawn === undefined || child === undefined
          ? undefined
          : (signal) => {
              try {
                child.kill(signal);
              } catch {
                // a fake that throws on kill is as good as one that is gone
              }
            },
    });
  }

  /**
   * Calls `decide` after one poll phase of the event loop has run: a timer that fires late, after
   * a stall of this loop (a long task, SIGSTOP), runs before the output that arrived meanwhile is
   * read, so silence is judged only once that output has had its chance to arrive.
   */
  #afterPendingOutput(decide: () => void): void {
    setImmediate(decide);
  }

  #armActivity(timeoutMs: number): void {
    const idle = () => this.#clock.now() - this.#lastActivity;
    const check = () => {
      if (this.#exitInfo !== undefined || this.#terminating) return;
      if (idle() < timeoutMs) {
        this.#activityTimer = this.#clock.setTimeout(check, timeoutMs - idle());
        return;
      }
      this.#afterPendingOutput(() => {
        if (this.#exitInfo !== undefined || this.#terminating) return;
        if (idle() < timeoutMs) {
          this.#activityTimer = this.#clock.setTimeout(check, timeoutMs - idle());
          return;
        }
        this.#fail(new ActivityTimeoutError(`${this.#name} printed nothing for ${timeoutMs} ms; killed it`, this.tail()));
        this.#terminate();
      });
    };
    this.#activityTimer = this.#clock.setTimeout(check, timeoutMs);
  }

  async #heartbeatLoop(fn: (beat: Heartbeat) => Promise<void> | void, periodMs: number | undefined): Promise<void> {
    const stop = this.#exitAbort.signal;
    await Promise.resolve(); // never call user code from inside the constructor
    while (!stop.aborted) {
      try {
        await fn({ tail: this.tail(), pid: this.#pid!, uptimeMs: this.#clock.now() - this.startedAt });
      } catch (err) {
        this.#fail(toError(err));
        this.#terminate();
        return;
      }
      if (periodMs === undefined) return;
      try {
        await this.#clock.sleep(periodMs, stop);
      } catch {
        return;
      }
    }
  }

  #watchReady(child: ChildProcess | undefined): void {
    const check = this.#o.ready;
    const markReady = () => {
      if (this.#readyState !== 'waiting') return;
      this.#readyState = 'ready';
      readyTimer?.clear();
      this.#resolveReady();
    };
    let readyTimer: TimerHandle | undefined;
    // An adopted process was (most likely) ready under its first monitor; its IPC channel died with it.
    const adoptedReady = this.#o.adopt !== undefined && (this.#o.adopt.ready !== false || (check !== undefined && 'message' in check));
    if (check === undefined || adoptedReady) {
      markReady();
      return;
    }
    if (check.timeoutMs !== undefined) {
      const ms = check.timeoutMs;
      readyTimer = this.#clock.setTimeout(
        () =>
          this.#afterPendingOutput(() => {
            if (this.#readyState !== 'waiting') return;
            const err = new ReadyTimeoutError(`${this.#name} was not ready within ${ms} ms; killed it`, this.tail());
            this.#rejectReadyWith(err);
            this.#fail(err);
            this.#terminate();
          }),
        ms,
      );
      this.#exitAbort.signal.addEventListener('abort', () => readyTimer?.clear(), { once: true });
    }
    watchReadiness(check, {
      child,
      clock: this.#clock,
      stop: this.#exitAbort.signal,
      listen: (fn) => {
        this.#listeners.add(fn);
        return () => void this.#listeners.delete(fn);
      },
      ready: markReady,
    });
  }

  #rejectReadyWith(err: Error): void {
    if (this.#readyState !== 'waiting') return;
    this.#readyState = 'failed';
    this.#rejectReady(err);
  }

  /** The process never started (spawn failed, an output pipe could not be opened). */
  #failStart(e: Error): void {
    this.#fail(e);
    this.#rejectReadyWith(e);
    this.#exitAbort.abort();
    this.#child?.stdout?.destroy();
    this.#child?.stderr?.destroy();
    this.#closeReaders();
    if (this.#log !== undefined && !this.#sharedLog) void this.#log.close().finally(() => this.#settle(this.#err ?? e));
    else this.#settle(this.#err ?? e);
  }

  async #onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const pid = this.#pid!;
    this.#exitInfo = { code, signal };
    this.#activityTimer?.clear();
    clearTimeout(this.#adoptPoll);
    this.#exitAbort.abort();
    const exitErr = this.adopted
      ? new AdoptedExitError(pid, this.tail(), this.#name)
      : code === 0 && signal === null
        ? undefined
        : new ProcessExitError(code, signal, this.tail(), this.#name);
    if (exitErr !== undefined) this.#fail(exitErr);
    const how = this.adopted ? 'exit status unknown' : (signal ?? `code ${code}`);
    this.#rejectReadyWith(new NotReadyError(`${this.#name} ended (${how}) before it was ready`, { cause: exitErr }));
    if (this.#stop !== undefined) {
      await this.#stop.rootExited();
    } else {
      // It ended on its own: whatever it left behind is an orphan now. The group at once; the
      // rest of the tree once wait() has settled, so a restart does not wait for the /proc scan.
      // The scan looks for the old root only: a replacement is safe from it.
      sweepOrphans(this.#root(), this.#done);
    }
    forgetGroup(pid);
    await this.#drainStreams();
    if (exitErr !== undefined) Object.assign(exitErr, { tail: this.tail() });
    await this.#heartbeats;
    if (!this.#sharedLog) await this.#log?.close();
    this.#settle(this.#err);
  }

  /**
   * Output still in the pipes is read to the end. Anonymous pipes: until end-of-file, cut after
   * 1 s (real time) when an escaped process holds one open. Named pipes never end: they are read
   * until empty, the child being gone.
   */
  async #drainStreams(): Promise<void> {
    if (this.#readers.length > 0) {
      for (const r of this.#readers) await r.drain();
      for (const c of this.#captures) c.end();
      this.#closeReaders();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
    });
    await Promise.race([this.#streams, cut]);
    clearTimeout(timer);
    this.#child?.stdout?.destroy();
    this.#child?.stderr?.destroy();
  }

  #closeReaders(): void {
    for (const r of this.#readers) r.close();
  }
}

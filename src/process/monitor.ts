// monitorProcess: a Worker around one child process (launchpad's worker monitor). The child runs
// without a shell in its own process group; its output feeds a tail ring, an optional rotating
// log file and line listeners; silence past activityTimeoutMs kills it; heartbeats report its
// tail. kill() signals the whole group (and descendants that left it), then SIGKILLs whatever
// is left when the grace ends, so no descendant survives. wait() settles only once the child is
// reaped, its output is drained and a running heartbeat has finished.

import { spawn as spawnChild, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { toError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { quiet, type Worker } from '../core/worker.js';
import { ActivityTimeoutError, NotReadyError, ProcessExitError, ProcessSpawnError, ReadyTimeoutError } from './errors.js';
import { LogFile, type LogFileOptions } from './log-file.js';
import { TailRing, captureLines, type LineListener } from './output.js';
import { watchReadiness, type ReadyCheck } from './ready.js';
import {
  forgetGroup,
  killTree,
  listDescendants,
  listProcesses,
  signalQuietly,
  stillAlive,
  trackGroup,
  type ProcInfo,
} from './tree.js';

export interface Heartbeat {
  /** The last `tailLines` lines of output, oldest first. */
  tail: string[];
  pid: number;
  uptimeMs: number;
}

export interface ExitInfo {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface MonitorOptions {
  command: string;
  args?: readonly string[];
  cwd?: string;
  /** The child's whole environment (as child_process takes it). Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Kill the child after this long without a byte on stdout or stderr. Default: never. */
  activityTimeoutMs?: number;
  /** Period between the end of one heartbeat and the next. Default: one heartbeat, at spawn. */
  heartbeatMs?: number;
  onHeartbeat?: (beat: Heartbeat) => Promise<void> | void;
  /** Lines kept for tail(). Default 100. */
  tailLines?: number;
  /** Append output here; `{ path, maxSize, keep }` rotates by size. */
  logFile?: string | LogFileOptions;
  /** Default 'SIGTERM'. */
  killSignal?: NodeJS.Signals;
  /** Time between killSignal and SIGKILL. Default 5000. */
  killGraceMs?: number;
  ready?: ReadyCheck;
  /** Called for every line of output. */
  onLine?: LineListener;
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
   * Open file descriptors of this process that the child gets as its fds 3, 4, ... in this
   * order (listening sockets handed down the sd_listen_fds(3) way). Default: none.
   */
  fds?: readonly number[];
}

/** What `child_process.spawn` is to monitorProcess. */
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface MonitoredProcess extends Worker {
  /** The child's pid (and process group id); undefined only when it could not be spawned. */
  readonly pid: number | undefined;
  /** clock.now() at spawn. */
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
}

/** Starts `command` and watches it; see the file comment. */
export function monitorProcess(options: MonitorOptions): MonitoredProcess {
  return new ProcessMonitor(options);
}

class ProcessMonitor implements MonitoredProcess {
  readonly startedAt: number;
  readonly #o: MonitorOptions;
  readonly #clock: Clock;
  readonly #name: string;
  readonly #ring: TailRing;
  readonly #listeners = new Set<LineListener>();
  readonly #log: LogFile | undefined;
  readonly #child: ChildProcess | undefined;
  readonly #exitAbort = new AbortController();
  #pid: number | undefined;
  #exitInfo: ExitInfo | undefined;
  #err: Error | undefined;
  #killedClean = false;
  #terminating = false;
  #snapshot: ProcInfo[] = [];
  #graceTimer: TimerHandle | undefined;
  #graceOver = false;
  #activityTimer: TimerHandle | undefined;
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
    if (o.onLine !== undefined) this.#listeners.add(o.onLine);
    const logger = o.logger;
    if (logger !== undefined) {
      this.#listeners.add((stream, line) => logger.info({ stream, pid: this.#pid, name: this.#name }, line));
    }
    if (o.logFile !== undefined) {
      this.#log = new LogFile(o.logFile, (err) =>
        logger?.warn({ err, name: this.#name }, 'log file write failed; output is no longer written to it'),
      );
    }
    this.startedAt = this.#clock.now();
    this.#lastActivity = this.startedAt;

    const wantsIpc = o.ready !== undefined && 'message' in o.ready;
    // Handed-down fds come right after stderr (3, 4, ...); an IPC channel goes after them.
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...(o.fds ?? []), ...(wantsIpc ? ['ipc' as const] : [])];
    let child: ChildProcess;
    try {
      child = (o.spawn ?? spawnChild)(o.command, o.args ?? [], { cwd: o.cwd, env: o.env, stdio, detached: true, windowsHide: true });
    } catch (err) {
      this.#child = undefined;
      this.#failSpawn(err);
      return;
    }
    this.#child = child;
    this.#pid = child.pid;
    if (this.#pid === undefined) {
      // Spawn failed; node reports why with an 'error' event on the next tick.
      child.once('error', (err) => this.#failSpawn(err));
      return;
    }
    child.on('error', () => {}); // later errors (a failed kill of a dead child) are not the child's failure
    trackGroup(this.#pid);
    const capture = {
      ring: this.#ring,
      log: this.#log,
      listeners: this.#listeners,
      onActivity: () => {
        this.#lastActivity = this.#clock.now();
      },
    };
    this.#streams = Promise.all([
      captureLines(child.stdout!, 'stdout', capture),
      captureLines(child.stderr!, 'stderr', capture),
    ]);
    child.once('exit', (code, signal) => void this.#onExit(code, signal));
    if (o.activityTimeoutMs !== undefined) this.#armActivity(o.activityTimeoutMs);
    if (o.onHeartbeat !== undefined) this.#heartbeats = this.#heartbeatLoop(o.onHeartbeat, o.heartbeatMs);
    this.#watchReady(child);
  }

  get pid(): number | undefined {
    return this.#pid;
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
  wait(): Promise<void> {
    return this.#done;
  }

  kill(_reason?: unknown): void {
    if (this.#err === undefined) this.#killedClean = true;
    this.#terminate();
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
    const pid = this.#pid;
    const signal = this.#o.killSignal ?? 'SIGTERM';
    // Parentage first: once the child dies its children are reparented and can no longer be found.
    this.#snapshot = listDescendants(pid);
    this.#signalInjected(signal);
    killTree(pid, signal, this.#snapshot);
    if (signal === 'SIGKILL') this.#hardKill();
    else this.#graceTimer = this.#clock.setTimeout(() => this.#hardKill(), this.#o.killGraceMs ?? 5000);
  }

  #hardKill(): void {
    if (this.#graceOver) return;
    this.#graceOver = true;
    const pid = this.#pid!;
    const fresh = this.#exitInfo === undefined ? listDescendants(pid) : [];
    if (this.#exitInfo === undefined) this.#signalInjected('SIGKILL');
    killTree(pid, 'SIGKILL', mergeProcs(this.#snapshot, fresh));
    this.#snapshot = mergeProcs(this.#snapshot, fresh);
  }

  /** A replaced spawn's children are not real processes: they hear signals through kill(). */
  #signalInjected(signal: NodeJS.Signals): void {
    if (this.#o.spawn === undefined) return;
    try {
      this.#child?.kill(signal);
    } catch {
      // a fake that throws on kill is as good as one that is gone
    }
  }

  #armActivity(timeoutMs: number): void {
    const check = () => {
      if (this.#exitInfo !== undefined || this.#terminating) return;
      const idle = this.#clock.now() - this.#lastActivity;
      if (idle < timeoutMs) {
        this.#activityTimer = this.#clock.setTimeout(check, timeoutMs - idle);
        return;
      }
      this.#fail(new ActivityTimeoutError(`${this.#name} printed nothing for ${timeoutMs} ms; killed it`, this.tail()));
      this.#terminate();
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

  #watchReady(child: ChildProcess): void {
    const check = this.#o.ready;
    const markReady = () => {
      if (this.#readyState !== 'waiting') return;
      this.#readyState = 'ready';
      readyTimer?.clear();
      this.#resolveReady();
    };
    let readyTimer: TimerHandle | undefined;
    if (check === undefined) {
      markReady();
      return;
    }
    if (check.timeoutMs !== undefined) {
      const ms = check.timeoutMs;
      readyTimer = this.#clock.setTimeout(() => {
        if (this.#readyState !== 'waiting') return;
        const err = new ReadyTimeoutError(`${this.#name} was not ready within ${ms} ms; killed it`, this.tail());
        this.#rejectReadyWith(err);
        this.#fail(err);
        this.#terminate();
      }, ms);
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

  #failSpawn(err: unknown): void {
    const e = new ProcessSpawnError(this.#o.command, err);
    this.#fail(e);
    this.#rejectReadyWith(e);
    this.#exitAbort.abort();
    this.#child?.stdout?.destroy();
    this.#child?.stderr?.destroy();
    void this.#log?.close().finally(() => this.#settle(this.#err ?? e));
    if (this.#log === undefined) this.#settle(this.#err ?? e);
  }

  async #onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const pid = this.#pid!;
    this.#exitInfo = { code, signal };
    this.#activityTimer?.clear();
    this.#exitAbort.abort();
    const exitErr =
      code === 0 && signal === null ? undefined : new ProcessExitError(code, signal, this.tail(), this.#name);
    if (exitErr !== undefined) this.#fail(exitErr);
    this.#rejectReadyWith(
      new NotReadyError(`${this.#name} ended (${signal ?? `code ${code}`}) before it was ready`, { cause: exitErr }),
    );
    if (this.#terminating) {
      await this.#reapSurvivors(pid);
    } else {
      // It ended on its own: whatever it left in its process group is an orphan now.
      signalQuietly(-pid, 'SIGKILL');
    }
    this.#graceTimer?.clear();
    forgetGroup(pid);
    await this.#drainStreams();
    if (exitErr !== undefined) Object.assign(exitErr, { tail: this.tail() });
    await this.#heartbeats;
    await this.#log?.close();
    this.#settle(this.#err);
  }

  /** After a kill: wait for the snapshot and group members to die, SIGKILLing them when the grace ends. */
  async #reapSurvivors(pid: number): Promise<void> {
    const survivors = () => stillAlive(mergeProcs(this.#snapshot, listProcesses().filter((p) => p.pgrp === pid)));
    let left = survivors();
    // Polls use real time: they only observe deaths. The grace itself is a Clock timer, so a
    // TestClock decides when SIGKILL comes, and a test needs no advance for children that obey.
    while (left.length > 0 && !this.#graceOver) {
      await realSleep(20);
      left = survivors();
    }
    if (left.length > 0) killTree(pid, 'SIGKILL', left);
    // SIGKILLed non-children become zombies of their own parents (or init) almost at once.
    for (let i = 0; i < 200 && left.length > 0; i++) {
      await realSleep(10);
      left = survivors();
    }
  }

  /** Output still in the pipes is read to the end; a pipe held open by an escaped process is cut after 1 s (real time). */
  async #drainStreams(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
    });
    await Promise.race([this.#streams, cut]);
    clearTimeout(timer);
    this.#child?.stdout?.destroy();
    this.#child?.stderr?.destroy();
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function mergeProcs(a: ProcInfo[], b: ProcInfo[]): ProcInfo[] {
  const seen = new Set(a.map((p) => `${p.pid}:${p.startTime}`));
  return [...a, ...b.filter((p) => !seen.has(`${p.pid}:${p.startTime}`))];
}

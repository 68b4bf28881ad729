// One instance of one program: spawns it with monitorProcess, applies the restart policy with
// backoff, and gives up (`failed`) when it restarts more than `intensity` times within `period`.
//
// Why not core's Supervisor: the daemon needs each instance to fail on its own (siblings keep
// running, and `status` must say why), restarts asked for by a command must not count, and the
// states `starting | ready | running | backoff | failed` must be observable from outside. A
// Supervisor dies as a whole when intensity is exceeded, so the per-instance loop is this small
// state machine instead; every timer still goes through a Clock.

import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { monitorProcess } from '../process/monitor.js';
import type { ProgramConfig, Ready } from '../fleet/config.js';

export type State = 'starting' | 'ready' | 'running' | 'stopping' | 'stopped' | 'backoff' | 'failed';
export type EventName = 'started' | 'ready' | 'exited' | 'restarting' | 'failed' | 'stopped';

export interface LifecycleEvent {
  at: number;
  program: string;
  instance: number;
  event: EventName;
  details: string;
}

export interface LastExit {
  code: number | null;
  signal: string | null;
  at: string;
}

export interface InstanceHooks {
  emit(event: LifecycleEvent): void;
  /** Called after every state change, for live views. */
  changed(): void;
  logFile(program: ProgramConfig, instance: number): { path: string; maxSize: number; keep: number };
  /**
   * The policy is about to restart this instance after a crash. Returning true hands the restart
   * to the daemon (one_for_all, rest_for_one): after its backoff the instance waits, still
   * `backoff`, until the daemon calls start() on it in start order.
   */
  restartGroup?(instance: Instance): boolean;
  clock?: Clock;
}

/** A policy restart the daemon coordinates: where the loop waits for the daemon's go. */
interface Gate {
  /** The daemon said go (start() was called). */
  go: boolean;
  released: Promise<void>;
  release(): void;
  /** Past the backoff delay, or the loop ended. */
  reached: Promise<void>;
  reach(): void;
  /** Respawned, or the loop ended. */
  spawned: Promise<void>;
  spawn(): void;
}

/** Promise.withResolvers is Node 22. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function newGate(): Gate {
  const released = deferred();
  const reached = deferred();
  const spawned = deferred();
  const gate: Gate = {
    go: false,
    released: released.promise,
    release: () => {
      gate.go = true;
      released.resolve();
    },
    reached: reached.promise,
    reach: () => reached.resolve(),
    spawned: spawned.promise,
    spawn: () => spawned.resolve(),
  };
  return gate;
}

type Monitor = ReturnType<typeof monitorProcess>;

export class Instance {
  config: ProgramConfig;
  readonly index: number;
  state: State = 'stopped';
  /** Restarts made by the policy; a restart by command does not count. */
  restarts = 0;
  pid: number | null = null;
  startedAt = 0;
  lastExit: LastExit | undefined;
  /** Why the instance is failed (or was last restarted). */
  reason: string | undefined;
  memoryBytes = 0;
  cpuPercent = 0;
  /** Set by the sampler when the tree's RSS passed memoryLimit; the loop restarts the instance. */
  memoryExceeded = false;
  /** CPU percent of the last samples, oldest first, for sparklines. */
  cpuHistory: number[] = [];

  readonly #hooks: InstanceHooks;
  readonly #clock: Clock;
  #monitor: Monitor | undefined;
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #restartTimes: number[] = [];
  #readyWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #gate: Gate | undefined;

  constructor(config: ProgramConfig, index: number, hooks: InstanceHooks) {
    this.config = config;
    this.index = index;
    this.#hooks = hooks;
    this.#clock = hooks.clock ?? systemClock;
  }

  get name(): string {
    return this.config.name;
  }

  get running(): boolean {
    return this.#loop !== undefined;
  }

  /** Last lines of output of the current (or last) process, oldest first. */
  tail(): string[] {
    return this.#monitor?.tail() ?? [];
  }

  uptimeMs(): number {
    return this.pid === null ? 0 : Math.max(0, this.#clock.now() - this.startedAt);
  }

  /**
   * Starts the loop unless it runs; resolves once the first process was spawned (or could not be).
   * On an instance waiting for a group restart, lets it go on and resolves once it respawned.
   * `keepHistory` (a group restart) keeps the restart times that intensity counts.
   */
  start(keepHistory = false): Promise<void> {
    if (this.#loop !== undefined) {
      const gate = this.#gate;
      if (gate === undefined) return Promise.resolve();
      gate.release();
      return gate.spawned;
    }
    const abort = new AbortController();
    this.#abort = abort;
    if (!keepHistory) this.#restartTimes = [];
    this.reason = undefined;
    return new Promise<void>((spawned) => {
      this.#loop = this.#run(abort.signal, spawned).finally(() => {
        if (this.#abort === abort) {
          this.#loop = undefined;
          this.#abort = undefined;
        }
        spawned();
      });
    });
  }

  /** Stops the process (its whole tree, within killTimeout) and the loop; resolves once it is reaped. */
  async stop(): Promise<void> {
    const loop = this.#loop;
    if (loop === undefined) return;
    this.#abort?.abort();
    if (this.#monitor !== undefined && this.pid !== null) this.#set('stopping');
    this.#monitor?.kill();
    await loop;
  }

  /** True while a crash of this instance waits for the daemon's group restart. */
  get awaitingGroup(): boolean {
    return this.#gate !== undefined && !this.#gate.go;
  }

  /** Resolves once a group restart of this instance is past its backoff (or the loop ended). */
  backoffDone(): Promise<void> {
    return this.#gate?.reached ?? Promise.resolve();
  }

  /** Stop, then start again; resolves once the new process runs. Not counted in `restarts`. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The sampler saw the tree's RSS pass memoryLimit: kill it; the loop restarts it as a failure. */
  exceedMemory(rss: number): void {
    if (this.memoryExceeded || this.#monitor === undefined || this.pid === null) return;
    this.memoryExceeded = true;
    this.reason = `memory ${rss} bytes > memoryLimit ${this.config.memoryLimitBytes}`;
    this.#monitor.kill();
  }

  /** Resolves once ready (or running, without a `ready` check); rejects if the loop ends first. */
  whenReady(): Promise<void> {
    if (this.state === 'ready' || (this.state === 'running' && this.config.ready === undefined)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  #set(state: State): void {
    this.state = state;
    if (state === 'ready' || (state === 'running' && this.config.ready === undefined)) {
      for (const w of this.#readyWaiters.splice(0)) w.resolve();
    }
    this.#hooks.changed();
  }

  #emit(event: EventName, details = ''): void {
    this.#hooks.emit({ at: this.#clock.now(), program: this.name, instance: this.index, event, details });
  }

  async #run(signal: AbortSignal, spawned: () => void): Promise<void> {
    let consecutive = 0;
    let final: State = 'stopped';
    while (!signal.aborted) {
      const cfg = this.config;
      const command = cfg.shell ? ['/bin/sh', '-c', cfg.command.join(' ')] : cfg.command;
      this.memoryExceeded = false;
      const m = monitorProcess({
        command: command[0]!,
        args: command.slice(1),
        cwd: cfg.cwd,
        env: { ...process.env, ...cfg.env, BOSUN_PROGRAM: cfg.name, BOSUN_INSTANCE: String(this.index) },
        activityTimeoutMs: cfg.activityTimeoutMs,
        logFile: this.#hooks.logFile(cfg, this.index),
        killSignal: cfg.killSignal,
        killGraceMs: cfg.killTimeoutMs,
        ready: readyOption(cfg.ready),
        tailLines: 20,
        clock: this.#clock,
        name: `${cfg.name}[${this.index}]`,
      });
      this.#monitor = m;
      const began = this.#clock.now();
      this.startedAt = began;
      this.pid = m.pid ?? null;
      this.memoryBytes = 0;
      this.cpuPercent = 0;
      if (this.pid !== null) this.#emit('started', `pid=${this.pid}`);
      // A command that could not be spawned is not running, so nothing waiting on it may start.
      this.#set(cfg.ready === undefined && this.pid !== null ? 'running' : 'starting');
      spawned();
      this.#gate?.spawn();
      this.#gate = undefined;
      m.ready().then(
        () => {
          if (this.#monitor === m && this.state === 'starting') {
            this.#set('ready');
            this.#emit('ready');
          }
        },
        () => {},
      );
      let error: unknown;
      try {
        await m.wait();
      } catch (err) {
        error = err;
      }
      const exit = m.exitInfo ?? { code: null, signal: null };
      this.pid = null;
      this.memoryBytes = 0;
      this.cpuPercent = 0;
      this.lastExit = { code: exit.code, signal: exit.signal, at: new Date(this.#clock.now()).toISOString() };
      const why = this.memoryExceeded
        ? ' reason=memory-limit'
        : (error as { code?: string } | undefined)?.code === 'ERR_TIMEOUT'
          ? ` reason=${/ready/i.test((error as Error).message) ? 'ready-timeout' : 'activity-timeout'}`
          : (error as { code?: string } | undefined)?.code === 'ERR_PROCESS_SPAWN'
            ? ` reason=${JSON.stringify((error as Error).message)}`
            : '';
      this.#emit('exited', `code=${exit.code} signal=${exit.signal}${why}`);
      if (signal.aborted) break;

      const failedRun = error !== undefined || this.memoryExceeded || exit.code !== 0;
      const restart = cfg.restart === 'always' || (cfg.restart === 'on-failure' && failedRun);
      if (!restart) {
        final = failedRun ? 'failed' : 'stopped';
        if (failedRun) this.reason = `exited code=${exit.code} signal=${exit.signal}${why} (restart: ${cfg.restart})`;
        break;
      }
      const now = this.#clock.now();
      this.#restartTimes = this.#restartTimes.filter((t) => t > now - cfg.periodMs);
      this.#restartTimes.push(now);
      if (this.#restartTimes.length > cfg.intensity) {
        this.reason = `restart intensity exceeded: more than ${cfg.intensity} restarts in ${cfg.periodMs}ms (last exit code=${exit.code} signal=${exit.signal}${why})`;
        final = 'failed';
        break;
      }
      if (now - began >= cfg.backoff.resetAfterMs) consecutive = 0;
      const delay = Math.round(Math.min(cfg.backoff.initialMs * cfg.backoff.factor ** consecutive, cfg.backoff.maxMs));
      consecutive++;
      this.reason = `last exit code=${exit.code} signal=${exit.signal}${why}`;
      this.#set('backoff');
      this.#emit('restarting', `in=${delay}ms`);
      // Asked before the delay, so the daemon stops the siblings while this one backs off.
      const gate = this.#hooks.restartGroup?.(this) === true ? (this.#gate = newGate()) : undefined;
      // No timer at all for a zero delay: a crash loop with backoff 0 restarts at once.
      if (delay > 0) {
        try {
          await this.#clock.sleep(delay, signal);
        } catch {
          break;
        }
      } else if (signal.aborted) break;
      if (gate !== undefined) {
        gate.reach();
        if (!gate.go) {
          const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
          await Promise.race([gate.released, aborted]);
        }
        if (signal.aborted) break;
      }
      this.restarts++;
    }
    this.pid = null;
    // A group restart waiting on this loop must not hang: nothing will respawn now.
    this.#gate?.reach();
    this.#gate?.spawn();
    this.#gate = undefined;
    this.#set(final);
    if (final === 'failed') this.#emit('failed', `reason=${this.reason ?? 'unknown'}`);
    else this.#emit('stopped');
    const err = new Error(`${this.name}[${this.index}] is ${final}`);
    for (const w of this.#readyWaiters.splice(0)) w.reject(err);
  }
}

function readyOption(ready: Ready | undefined) {
  switch (ready?.kind) {
    case undefined:
      return undefined;
    case 'log':
      return { log: ready.pattern };
    case 'http':
      return { http: ready.url };
    case 'message':
      return { message: true as const };
    case 'delay':
      return { delayMs: ready.ms };
  }
}


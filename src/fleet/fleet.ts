// Fleet: the programs of one config, run as a tree of core Workers. Each instance run is a
// ProgramInstance (a monitorProcess with readiness and limits); a program is a Supervisor of
// its instances; the fleet is a Supervisor of programs, in `after` order, with the config's
// strategy. Restarts, backoff with jitter, intensity, group strategies and shutdown are core's;
// what the fleet adds is bookkeeping for `status`, `after` (an instance waits until the
// programs it comes after are ready) and commands, which run one at a time.
//
//   fleet Supervisor (strategy)          one child a program, start_link: a program holds back
//   └─ program Supervisor (one_for_one)  the next until each instance is ready, ended or waiting
//      └─ instance: ProgramInstance      restart type from `restart`
//
// Intensity: under one_for_one each instance child carries the program's own limit (it alone
// becomes `failed`). Under one_for_all and rest_for_one a crash must restart other programs,
// so the program Supervisor gives up at its first crash (intensity 0) and the fleet
// Supervisor, which holds the program's limit and backoff, restarts the group.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackoffOptions } from '../core/backoff.js';
import type { ChildSpec, RestartType } from '../core/child-spec.js';
import { systemClock, type Clock } from '../core/clock.js';
import { DeadError, NotFoundError, toError } from '../core/errors.js';
import { Emitter, type Listener } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { Supervisor } from '../core/supervisor.js';
import { quiet, type Worker } from '../core/worker.js';
import { LogFile } from '../process/log-file.js';
import { monitorProcess, type SpawnFn } from '../process/monitor.js';
import { makeFifos } from '../process/output-pipes.js';
import { isAlive, treeMarkers } from '../process/tree.js';
import { TreeStop } from '../process/tree-stop.js';
import type { DaemonConfig as FleetConfig, ProgramConfig } from './config.js';
import { CronRestart } from './cron-restart.js';
import { MemoryLimitError, ProgramInstance, argvOf, reasonOf } from './instance.js';
import { programLogFile, type ProgramLogFile } from './log-files.js';
import type { InstanceJournal } from './journal.js';
import { InstanceRecord, type InstanceDetails } from './record.js';
import { rollingRestart, type RollHost } from './rolling.js';
import { ListenError, Sockets } from './sockets.js';
import { FileWatch, ignoreMatcher } from './watch.js';
import { Sampler } from './sampler.js';
import type { HostLink } from './host-link.js';
import { findLeftovers } from './leftovers.js';
import { FleetState, type InstanceEntry } from './state.js';
import type { EventName, LifecycleEvent, LogFileRef, Reason, StatusBody } from './status.js';
import { dependsOn, parseTarget, startOrder } from './targets.js';

export interface FleetOptions {
  config: FleetConfig;
  /** Every timer (backoff, readiness, limits, sampling) goes through it. Default systemClock. */
  clock?: Clock;
  logger?: Logger;
  /** Starts each instance's process; default `child_process.spawn`. Tests pass fake children. */
  spawn?: SpawnFn;
  /** Randomness for backoff jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /**
   * Programs outlive this process: their output goes through named pipes in the home, their
   * pids are kept in `<home>/run/instances.json`, and a new Fleet on the same home adopts those
   * still running instead of starting second copies. Default true, false with a custom `spawn`
   * (fake children have no pipes to share).
   */
  durable?: boolean;
  /**
   * The link to the other hosts of the fleet (`await connectHost(config)`), required when the
   * config has `fleet`: this host's status goes to the fleet's database and `placement:
   * singleton` programs take their lease there. Its owner closes it after the fleet stopped.
   */
  hosts?: HostLink;
}

export interface FleetEvents {
  /** One lifecycle event (what `bosun run` prints a line of). */
  event: LifecycleEvent;
  /** Something in `status()` changed. */
  change: null;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
}

const RESTART: Record<ProgramConfig['restart'], RestartType> = { always: 'permanent', 'on-failure': 'transient', never: 'temporary' };
/** Reasons worth a word on the `exited` line: limits that killed it, and a start that failed. */
const SHOWN_ON_EXIT = new Set<Reason>(['memory-limit', 'activity-timeout', 'ready-timeout', 'spawn-error']);

interface Program {
  config: ProgramConfig;
  records: InstanceRecord[];
  /** The program's Supervisor while it runs. */
  sup: Supervisor | undefined;
  /** The instance that crashed last in this run: the one a group restart of the program is for. */
  culprit: InstanceRecord | undefined;
  /** Stopped as a whole by a command: `after` does not wait for it. */
  held: boolean;
}

/** See the file comment. A Worker: runs from construction; kill() stops every program in reverse start order. */
export class Fleet implements Worker {
  readonly kind = 'tree' as const;
  #config: FleetConfig;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #spawn: SpawnFn | undefined;
  readonly #log: Logger | undefined;
  readonly #hosts: HostLink | undefined;
  readonly #programs = new Map<string, Program>();
  readonly #events = new Emitter<FleetEvents>((err, event) => this.#log?.error({ err, event }, 'fleet event listener threw'));
  readonly #sampler: Sampler;
  /** Where adoption state lives; undefined when not durable (or the home cannot hold pipes). */
  readonly #state: FleetState | undefined;
  /** Processes an earlier daemon left that cannot be adopted, being stopped, by `name[index]`. */
  readonly #stale = new Map<string, Promise<void>>();
  #tree: Supervisor;
  #watchers = 0;
  /** Listening sockets, bound once and kept across restarts and reloads (sockets.ts). */
  readonly #sockets = new Sockets();
  /** Replacements started by a rolling restart and not yet handed to their Supervisor. */
  readonly #replacements = new Set<ProgramInstance>();
  /** The log writer of each instance, by path (see #logWriter). */
  readonly #logs = new Map<string, { key: string; file: LogFile }>();
  /** Which pair of named pipes each run writes to (a replacement takes the other pair). */
  readonly #slots = new WeakMap<ProgramInstance, 'a' | 'b'>();
  /** Each program's watch and cronRestart, which restart it with reason `watch` or `cron`. */
  readonly #triggers = new Map<string, { stop(): void }[]>();
  #commands: Promise<unknown> = Promise.resolve();
  /** Conditions re-checked on every change (instances waiting for `after`, programs settling). */
  readonly #waiters = new Set<() => void>();
  #dying = false;
  #settle!: (err: Error | undefined) => void;
  readonly #done: Promise<void>;

  constructor(options: FleetOptions) {
    this.#config = options.config;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#spawn = options.spawn;
    this.#log = options.logger;
    this.#hosts = options.hosts;
    if (this.#config.fleet !== undefined && this.#hosts === undefined)
      throw new TypeError('a config with `fleet` needs its link to the fleet: new Fleet({ config, hosts: await connectHost(config) })');
    mkdirSync(join(this.#config.home, 'logs'), { recursive: true, mode: 0o700 });
    for (const cfg of this.#config.programs) this.#programs.set(cfg.name, this.#newProgram(cfg));
    this.#sampler = new Sampler(
      () => this.#records(),
      this.#clock,
      () => this.#watchers > 0,
    );
    this.#state = (options.durable ?? options.spawn === undefined) ? this.#openState() : undefined;
    this.#done = quiet(
      new Promise<void>((resolve, reject) => {
        this.#settle = (err) => (err === undefined ? resolve() : reject(err));
      }),
    );
    this.#tree = this.#newTree();
    for (const cfg of this.#config.programs) this.#armTriggers(cfg);
    this.#hosts?.attach(this);
  }

  get config(): FleetConfig {
    return this.#config;
  }

  on<K extends keyof FleetEvents>(name: K, fn: Listener<FleetEvents[K]>): () => void {
    return this.#events.on(name, fn);
  }

  /** The `status --json` body: one row per instance, programs in file order. */
  status(): StatusBody {
    const now = this.#clock.now();
    const programs = [];
    for (const p of this.#programs.values()) {
      for (const r of p.records) programs.push(r.status(now, () => this.#pendingDeps(p)));
    }
    if (this.#hosts !== undefined) for (const row of programs) row.host = this.#hosts.host;
    return { programs };
  }

  /** status() with memory and CPU sampled now (unless a sample is recent). */
  freshStatus(): StatusBody {
    this.#sampler.fresh();
    return this.status();
  }

  /** Recent output and events (across restarts) and resource history of each instance, keyed `name[index]`. */
  details(): Record<string, InstanceDetails> {
    const out: Record<string, InstanceDetails> = {};
    for (const r of this.#records())
      out[`${r.program}[${r.index}]`] = { journal: r.journal, samples: { at: r.sampledAt, cpu: r.cpuHistory, memory: r.memoryHistory } };
    return out;
  }

  logFiles(): LogFileRef[] {
    return [...this.#records()].map((r) => ({
      name: r.program,
      instance: r.index,
      path: this.#logFile(this.#programs.get(r.program)!.config, r.index).path,
    }));
  }

  /**
   * SIGKILLs every program's whole tree now, synchronously: for a daemon told to exit at once
   * (a second Ctrl-C), which must not leave its programs behind for adoption.
   */
  killNow(): void {
    this.#dying = true;
    for (const r of this.#records()) {
      r.worker?.killNow();
      r.replacement?.killNow();
    }
  }

  /** Closes and reopens every program's log file (logrotate; a deleted log frees its space). */
  reopenLogs(): void {
    for (const r of this.#records()) r.worker?.reopenLog();
  }

  /** A live view opened (+1) or closed (-1): resources are sampled every second while any is open. */
  watch(delta: 1 | -1): void {
    this.#watchers = Math.max(0, this.#watchers + delta);
    if (delta > 0) this.#sampler.wake();
  }

  /** Stops `target` (`name`, `name:index` or `all`); settles once its processes are gone. */
  stop(target: string): Promise<void> {
    return this.#command(async () => {
      const t = this.#target(target);
      if (t.all) {
        for (const name of [...this.#order()].reverse()) await this.#stopProgram(name, 'command');
      } else if (t.index === undefined) await this.#stopProgram(t.program, 'command');
      else await this.#stopInstance(t.program, t.index, 'command');
    });
  }

  /** Starts what of `target` is not running; settles once it started (ready, ended, or waiting for `after`). */
  start(target: string): Promise<void> {
    return this.#command(async () => {
      const t = this.#target(target);
      if (t.all) {
        for (const name of this.#order()) await this.#startProgram(name);
      } else if (t.index === undefined) await this.#startProgram(t.program);
      else await this.#startInstance(t.program, t.index);
    });
  }

  /**
   * Stops and starts `target` again; not counted in `restarts`. Settles once the new processes
   * started. Rolling (`rolling`, default each program's `rolling` key): one instance at a time,
   * each replacement started and ready before its old process stops; a replacement that is
   * not ready stops the roll and rejects with RollingRestartError (the old process runs on).
   */
  restart(target: string, options: { rolling?: boolean } = {}): Promise<void> {
    return this.#command(async () => {
      const t = this.#target(target);
      const rolls = (name: string) => options.rolling ?? this.#programs.get(name)!.config.rolling;
      if (t.all) {
        const order = this.#order();
        for (const name of [...order].reverse()) if (!rolls(name)) await this.#stopProgram(name, 'command');
        for (const name of order) if (!rolls(name)) await this.#startProgram(name);
        for (const name of order) if (rolls(name)) await this.#rollProgram(name, 'command');
      } else if (t.index === undefined) {
        if (rolls(t.program)) await this.#rollProgram(t.program, 'command');
        else await this.#restartProgram(t.program, 'command');
      } else if (rolls(t.program)) await this.#rollInstances(t.program, [t.index], 'command');
      else await this.#restartInstance(t.program, t.index, 'command');
    });
  }

  /**
   * Applies a new config: stops removed programs, restarts changed ones with their new
   * settings, starts added ones; unchanged programs keep running. Settles once done.
   */
  reload(next: FleetConfig): Promise<ReloadResult> {
    return this.#command(() => this.#reload(next));
  }

  kill(_reason?: unknown): void {
    this.#dying = true;
    for (const w of this.#replacements) w.kill();
    this.#tree.kill();
  }

  wait(): Promise<void> {
    return this.#done;
  }

  // ---- the tree -------------------------------------------------------------------

  #group(): boolean {
    return (this.#config.strategy ?? 'one_for_one') !== 'one_for_one';
  }

  #newTree(): Supervisor {
    const tree = new Supervisor({
      name: 'fleet',
      strategy: this.#config.strategy ?? 'one_for_one',
      intensity: Infinity,
      clock: this.#clock,
      random: this.#random,
      children: this.#order().map((name) => this.#programSpec(name)),
      ...(this.#log === undefined ? {} : { logger: this.#log }),
    });
    // The fleet ends with its tree, unless a reload is replacing the tree.
    tree.wait().then(
      () => this.#treeEnded(tree, undefined),
      (err: unknown) => this.#treeEnded(tree, toError(err)),
    );
    // Under a group strategy a program's restart is the fleet's decision; it is for the
    // instance whose crash made the program give up.
    tree.on('childRestarting', (e) => {
      const p = this.#programs.get(e.id);
      const culprit = p?.culprit;
      if (culprit === undefined) return;
      p!.culprit = undefined;
      culprit.restarts++;
      this.#set(culprit, 'backoff');
      this.#emit(culprit, 'restarting', `in=${e.delayMs}ms`);
    });
    tree.on('childFailed', (e) => {
      const p = this.#programs.get(e.id);
      if (p === undefined) return;
      const culprit = p.culprit ?? p.records[0]!;
      p.culprit = undefined;
      const detail = this.#intensityDetail(p.config, culprit);
      for (const r of p.records) {
        r.reason = 'intensity';
        r.detail = detail;
        this.#set(r, 'failed');
      }
      this.#emit(culprit, 'failed', `reason=intensity detail=${JSON.stringify(culprit.detail)}`);
    });
    return tree;
  }

  #programSpec(name: string): ChildSpec {
    const cfg = this.#programs.get(name)!.config;
    return {
      id: name,
      kind: 'tree',
      restart: 'permanent',
      ...(this.#group() ? this.#limits(cfg) : {}),
      start: () => this.#runProgram(name),
    };
  }

  #limits(cfg: ProgramConfig): Pick<ChildSpec, 'intensity' | 'periodMs' | 'backoff'> {
    const backoff: BackoffOptions = {
      initialMs: cfg.backoff.initialMs,
      factor: cfg.backoff.factor,
      maxMs: cfg.backoff.maxMs,
      resetAfterMs: cfg.backoff.resetAfterMs,
    };
    return { intensity: cfg.intensity, periodMs: cfg.periodMs, backoff };
  }

  /** One run of a program: its Supervisor of instances, seen by the fleet Supervisor as a tree that has started once every instance settled. */
  #runProgram(name: string): Worker & { kind: 'tree'; started(): Promise<void> } {
    const p = this.#programs.get(name)!;
    const group = this.#group();
    const members = p.records.filter((r) => !r.held);
    for (const r of members) r.attempted = false;
    const sup = new Supervisor({
      name,
      strategy: 'one_for_one',
      intensity: group ? 0 : Infinity,
      clock: this.#clock,
      random: this.#random,
      children: members.map((r) => this.#instanceSpec(p, r)),
    });
    p.sup = sup;
    p.culprit = undefined;
    const byId = (id: string) => p.records[Number(id)];
    sup.on('childExited', (e) => {
      if (e.error !== undefined && !e.killed) p.culprit = byId(e.id);
    });
    sup.on('childRestarting', (e) => {
      const r = byId(e.id);
      if (r === undefined) return;
      r.restarts++;
      this.#set(r, 'backoff');
      this.#emit(r, 'restarting', `in=${e.delayMs}ms`);
    });
    sup.on('childFailed', (e) => {
      const r = byId(e.id);
      if (r === undefined) return;
      r.detail = this.#intensityDetail(p.config, r);
      r.reason = 'intensity';
      this.#set(r, 'failed');
      this.#emit(r, 'failed', `reason=intensity detail=${JSON.stringify(r.detail)}`);
    });
    sup.on('childRemoved', (e) => {
      // A transient instance that ended cleanly, a temporary one that ended: not restarted.
      const r = byId(e.id);
      if (r === undefined || r.pid !== null || r.state === 'stopped' || r.state === 'failed') return;
      this.#settleEnded(r);
    });
    const done = sup.wait();
    void done
      .finally(() => {
        if (p.sup === sup) p.sup = undefined;
      })
      .catch(() => {});
    const settled = this.#until(() => this.#settled(p), undefined).then(() => undefined);
    return {
      kind: 'tree',
      kill: (reason?: unknown) => sup.kill(reason),
      wait: () => done,
      started: () =>
        Promise.race([
          settled,
          done.then(
            () => undefined,
            () => undefined,
          ),
        ]),
    };
  }

  #instanceSpec(p: Program, r: InstanceRecord): ChildSpec {
    return {
      id: String(r.index),
      kind: 'worker',
      restart: RESTART[p.config.restart],
      // The instance stops itself within killTimeout (SIGKILL after it), so waiting is bounded.
      shutdownMs: 'infinity',
      ...(this.#group() ? {} : this.#limits(p.config)),
      start: (signal) => this.#runInstance(p, r, signal),
    };
  }

  /** One run of an instance: wait for `after`, spawn, and resolve once ready or ended (start_link). */
  async #runInstance(p: Program, r: InstanceRecord, signal: AbortSignal): Promise<Worker> {
    r.attempted = true;
    const replacement = r.replacement;
    if (replacement !== undefined) {
      // A rolling restart's handOver: the ready replacement is this run; nothing is spawned.
      r.replacement = undefined;
      return this.#attach(p, r, replacement, signal, true);
    }
    if (this.#pendingDeps(p).length > 0) {
      this.#set(r, 'waiting');
      try {
        await this.#until(() => this.#pendingDeps(p).length === 0, signal);
      } catch (err) {
        this.#set(r, 'stopped');
        throw err;
      }
    }
    // A process an earlier daemon left that cannot be adopted is gone before its successor starts.
    await this.#stale.get(`${p.config.name}[${r.index}]`);
    if (p.config.placement === 'singleton') return this.#runSingleton(p, r, signal);
    const cfg = p.config;
    let w = this.#adopted(cfg, r);
    if (w === undefined) {
      try {
        w = this.#fresh(cfg, r, r.slot, cfg.listen.length === 0 ? undefined : await this.#sockets.forProgram(cfg.name, cfg.listen));
      } catch (err) {
        if (err instanceof ListenError) {
          r.reason = 'spawn-error';
          r.detail = err.message;
          this.#set(r, 'stopping');
        }
        throw err;
      }
      if (signal.aborted) {
        // Stopped while its sockets were being bound.
        w.kill();
        await w.wait().catch(() => {});
        throw signal.reason;
      }
    }
    if (w.pid !== null) this.#emit(r, 'started', `pid=${w.pid}${w.adopted ? ' adopted' : ''}`, w.startedAt);
    return this.#attach(p, r, w, signal, false);
  }

  /**
   * A singleton instance: standby until it holds the program's lease; each tenure is a #tenure
   * (see singleton.ts). A tenure is never adopted: its environment carries the tenure's fence
   * marker, so its fingerprint is not the program's, and a daemon after this one stops it rather
   * than adopt a process whose lease it cannot renew (the old daemon's fence would anyway).
   */
  async #runSingleton(p: Program, r: InstanceRecord, signal: AbortSignal): Promise<Worker> {
    // The standby sentence shows only while standby; a tenure brings back the last reason's.
    let detail = r.detail;
    let lost = false;
    try {
      const cfg = p.config;
      // Bound once, like any program's; every tenure on this host gets them.
      const listen = cfg.listen.length === 0 ? undefined : await this.#sockets.forProgram(cfg.name, cfg.listen);
      return await this.#hosts!.singleton(
        {
          program: p.config.name,
          index: r.index,
          killSignal: p.config.killSignal,
          killTimeoutMs: p.config.killTimeoutMs,
          launch: (tenure, env) => {
            r.detail = detail;
            return this.#tenure(p, r, tenure, env, listen);
          },
          standby: (why) => {
            if (!lost && r.state !== 'standby') detail = r.detail;
            lost = false;
            r.detail = why;
            this.#set(r, 'standby');
          },
          leaseLost: (why) => {
            // Before the stop when it can be, so the exit is recorded as the lease's doing.
            r.stopReason = 'lease';
            r.reason = 'lease';
            detail = why;
            lost = true;
          },
        },
        signal,
      );
    } catch (err) {
      if (signal.aborted) this.#set(r, 'stopped');
      throw err;
    }
  }

  /**
   * One tenure of a singleton: always a fresh process (never adopted), its environment carrying
   * the fence's marker, wired like any run. `signal` aborting means the holder stopped it.
   */
  #tenure(
    p: Program,
    r: InstanceRecord,
    signal: AbortSignal,
    env: Record<string, string>,
    listen: { fds: number[]; env: Record<string, string> } | undefined,
  ): ProgramInstance {
    const cfg = { ...p.config, env: { ...p.config.env, ...env } };
    const w = this.#fresh(cfg, r, r.slot, listen);
    if (w.pid !== null) this.#emit(r, 'started', `pid=${w.pid}`, w.startedAt);
    this.#wire(cfg, r, w, signal, false);
    return w;
  }

  /**
   * Makes `w` the current run of `r` and resolves once it is ready or has ended (start_link).
   * `ready`: a rolling restart's replacement, which was started and found ready already.
   */
  async #attach(p: Program, r: InstanceRecord, w: ProgramInstance, signal: AbortSignal, ready: boolean): Promise<Worker> {
    this.#wire(p.config, r, w, signal, ready);
    const onAbort = () => w.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    await w.readyOrDone();
    signal.removeEventListener('abort', onAbort);
    return w;
  }

  /** Wires run `w` into record `r` (state, events, exit); `signal` aborting means we stopped it. */
  #wire(cfg: ProgramConfig, r: InstanceRecord, w: ProgramInstance, signal: AbortSignal, ready: boolean): void {
    r.worker = w;
    r.pid = w.pid;
    r.startedAt = w.startedAt;
    r.memoryBytes = 0;
    r.cpuPercent = 0;
    r.stopReason = undefined;
    r.slot = this.#slots.get(w) ?? r.slot;
    // Without a readiness check it is ready once spawned: recorded so at once, in one write.
    this.#remember(cfg, r, w, ready || cfg.ready === undefined);
    if (ready) this.#set(r, cfg.ready === undefined ? 'running' : 'ready');
    // A command that could not be spawned is not running, so nothing waiting on it may start.
    else this.#set(r, cfg.ready === undefined && r.pid !== null ? 'running' : 'starting');
    w.ready().then(
      () => {
        if (r.worker !== w) return;
        this.#remember(cfg, r, w, true);
        if (r.state !== 'starting') return;
        this.#set(r, 'ready');
        if (!w.adopted) this.#emit(r, 'ready');
      },
      () => {},
    );
    // Registered before the Supervisor's own watch, so status is current when it decides.
    w.wait().then(
      () => this.#ended(r, w, undefined, signal),
      (err: unknown) => this.#ended(r, w, toError(err), signal),
    );
    this.#sampler.wake();
  }

  /** A run ended: record how; the Supervisor's decision (restart, fail, remove) comes next as an event. */
  #ended(r: InstanceRecord, w: ProgramInstance, err: Error | undefined, signal: AbortSignal): void {
    if (r.worker !== w) return;
    const exit = w.exitInfo ?? { code: null, signal: null };
    if (r.pid !== null) this.#state?.delete(r.program, r.index, r.pid);
    r.pid = null;
    r.memoryBytes = 0;
    r.cpuPercent = 0;
    r.lastExit = { code: exit.code, signal: exit.signal, at: new Date(this.#clock.now()).toISOString() };
    const killed = signal.aborted;
    if (killed) {
      // Stopped by us: a command says why; a group restart or shutdown leaves the last reason.
      if (r.stopReason !== undefined) {
        r.reason = r.stopReason;
        r.detail = `stopped by ${r.stopReason}`;
      }
      this.#emit(r, 'exited', `code=${exit.code} signal=${exit.signal}`);
      // A rolling restart's handOver: the ready replacement becomes this run at once.
      if (r.replacement !== undefined) return;
      this.#set(r, 'stopped');
      this.#emit(r, 'stopped');
      return;
    }
    r.reason = reasonOf(err);
    r.detail = err?.message ?? `exited code=${exit.code} signal=${exit.signal}`;
    this.#emit(r, 'exited', `code=${exit.code} signal=${exit.signal}${SHOWN_ON_EXIT.has(r.reason) ? ` reason=${r.reason}` : ''}`);
    // Until the Supervisor decides: `backoff` comes with its restart event, `failed` with its give-up.
    this.#set(r, 'stopping');
  }

  /** An ended run that is not restarted (restart: never, or on-failure after a clean exit). */
  #settleEnded(r: InstanceRecord): void {
    const clean = r.lastExit?.code === 0 && r.lastExit.signal === null && (r.reason === 'exit' || r.reason === undefined);
    if (clean) {
      this.#set(r, 'stopped');
      this.#emit(r, 'stopped');
      return;
    }
    const policy = this.#programs.get(r.program)?.config.restart ?? 'never';
    r.detail = `${r.detail ?? 'exited'} (restart: ${policy})`;
    this.#set(r, 'failed');
    this.#emit(r, 'failed', `reason=${r.reason ?? 'exit'} detail=${JSON.stringify(r.detail)}`);
  }

  /** The process an earlier daemon left for record `r`, adopted, when there is one (its first run only). */
  #adopted(cfg: ProgramConfig, r: InstanceRecord): ProgramInstance | undefined {
    const state = this.#state;
    const adoption = r.adoption;
    r.adoption = undefined;
    if (state === undefined || adoption === undefined) return undefined;
    try {
      const w = new ProgramInstance({
        ...this.#instanceBase(cfg, r),
        outputPipes: state.pipes(cfg.name, r.index, adoption.slot),
        adopt: { pid: adoption.pid, startTime: adoption.startTime, ready: adoption.ready },
      });
      r.slot = adoption.slot;
      r.restarts = adoption.restarts;
      return w;
    } catch (err) {
      // It ended (or its pid was reused) between the check and now: start it anew.
      this.#log?.warn({ err, program: cfg.name, instance: r.index }, 'could not adopt; starting anew');
      return undefined;
    }
  }

  /** A new process for record `r`, its output through the pipes of `slot` (when durable), with the program's sockets. */
  #fresh(
    cfg: ProgramConfig,
    r: InstanceRecord,
    slot: 'a' | 'b',
    listen: { fds: number[]; env: Record<string, string> } | undefined,
  ): ProgramInstance {
    const state = this.#state;
    const w = new ProgramInstance({
      ...this.#instanceBase(cfg, r),
      ...(state === undefined ? {} : { outputPipes: state.pipes(cfg.name, r.index, slot) }),
      ...(listen === undefined ? {} : { listen }),
    });
    this.#slots.set(w, slot);
    return w;
  }

  #instanceBase(cfg: ProgramConfig, r: InstanceRecord) {
    const onOutput = (stream: 'stdout' | 'stderr', lines: string) => r.journal.lines(stream, lines);
    return {
      config: cfg,
      index: r.index,
      logFile: this.#logWriter(cfg, r.index),
      clock: this.#clock,
      onOutput,
      ...(this.#state === undefined ? {} : { home: this.#config.home }),
      ...(this.#spawn === undefined ? {} : { spawn: this.#spawn }),
    };
  }

  /** A replacement not yet handed over, in the home's state beside the run it replaces (its own slot). */
  #recordReplacement(cfg: ProgramConfig, r: InstanceRecord, w: ProgramInstance, ready: boolean): void {
    const slot = this.#slots.get(w);
    if (this.#state === undefined || w.pid === null || w.startTime === undefined || slot === undefined) return;
    this.#state.set({
      program: cfg.name,
      index: r.index,
      pid: w.pid,
      startTime: w.startTime,
      slot,
      ready,
      fingerprint: fingerprint(cfg),
      restarts: r.restarts,
    });
  }

  /** Writes the run into the home's state, so a daemon after this one can adopt it. */
  #remember(cfg: ProgramConfig, r: InstanceRecord, w: ProgramInstance, ready: boolean): void {
    const state = this.#state;
    if (state === undefined || w.pid === null || w.startTime === undefined || r.worker !== w) return;
    state.set({
      program: cfg.name,
      index: r.index,
      pid: w.pid,
      startTime: w.startTime,
      slot: r.slot,
      ready,
      fingerprint: fingerprint(cfg),
      restarts: r.restarts,
    });
  }

  /**
   * Opens the home's state and marks what the previous daemon left: instances still running as
   * they were configured are adopted by their first run; the others are stopped (their kill
   * signal, then SIGKILL after killTimeout, start times checked so a reused pid is never hit).
   */
  #openState(): FleetState | undefined {
    let state: FleetState;
    try {
      state = new FleetState(this.#config.home, (err) =>
        this.#log?.warn({ err }, 'cannot write the fleet state; a daemon after this one may not adopt every program'),
      );
      const pipes: string[] = [];
      for (const r of this.#records())
        for (const slot of ['a', 'b'] as const) pipes.push(...Object.values(state.pipes(r.program, r.index, slot)));
      makeFifos(pipes);
    } catch (err) {
      this.#log?.error({ err }, 'the home cannot hold the output pipes; programs will not outlive this daemon');
      return undefined;
    }
    const entries = state.read();
    const left = findLeftovers(this.#config.home, entries);
    for (const e of entries) {
      if (!isAlive(e.pid, e.startTime)) {
        if (left.orphaned.has(e.pid)) this.#stopOrphans(e, this.#programs.get(e.program)?.config);
        continue;
      }
      const p = this.#programs.get(e.program);
      const r = p?.records[e.index];
      if (p !== undefined && r !== undefined && e.fingerprint === fingerprint(p.config) && r.adoption === undefined) {
        r.adoption = e;
        continue;
      }
      this.#stopLeftover(state, e, p?.config);
    }
    // Runs the previous daemon started but died before recording: stopped, then started anew.
    for (const u of left.unrecorded) {
      const p = this.#programs.get(u.program);
      const slot = u.stdout === state.pipes(u.program, u.index, 'b').stdout ? 'b' : 'a';
      const e: InstanceEntry = { ...u, slot, ready: false, fingerprint: '', restarts: 0 };
      this.#log?.warn({ program: u.program, instance: u.index, pid: u.pid }, 'a run the previous daemon did not record is running');
      this.#stopLeftover(state, e, p?.config);
    }
    return state;
  }

  /** Stops a process an earlier daemon left that this config does not run as it is; its instance starts once it is gone. */
  #stopLeftover(state: FleetState, e: InstanceEntry, cfg: ProgramConfig | undefined): void {
    this.#holdStart(e, this.#stopProcessLeft(state, e, cfg));
  }

  /** The start of instance `e.program[e.index]` waits until `gone` settles (what an earlier daemon left is stopped). */
  #holdStart(e: { program: string; index: number }, gone: Promise<void>): void {
    const key = `${e.program}[${e.index}]`;
    this.#stale.set(
      key,
      Promise.all([this.#stale.get(key), gone]).then(() => undefined),
    );
  }

  /** Stops what a listed run that died by itself left in its session or group (its root is gone). */
  #stopOrphans(e: InstanceEntry, cfg: ProgramConfig | undefined): void {
    this.#log?.warn(
      { program: e.program, instance: e.index, pid: e.pid },
      'a program that died while no daemon ran left processes behind; stopping them',
    );
    const stop = new TreeStop({
      root: { pid: e.pid, startTime: e.startTime },
      signal: cfg?.killSignal ?? 'SIGTERM',
      graceMs: cfg?.killTimeoutMs ?? 5000,
      clock: this.#clock,
    });
    this.#holdStart(e, stop.rootExited());
  }

  async #stopProcessLeft(state: FleetState, e: InstanceEntry, cfg: ProgramConfig | undefined): Promise<void> {
    let m;
    try {
      m = monitorProcess({
        command: e.program,
        adopt: { pid: e.pid, startTime: e.startTime },
        outputPipes: state.pipes(e.program, e.index, e.slot),
        killSignal: cfg?.killSignal ?? 'SIGTERM',
        killGraceMs: cfg?.killTimeoutMs ?? 5000,
        clock: this.#clock,
        name: `${e.program}[${e.index}]`,
        outliveMonitor: true,
        ...(cfg === undefined ? {} : { logFile: this.#logWriter(cfg, e.index) }),
      });
    } catch (err) {
      if (!isAlive(e.pid, e.startTime)) return; // it ended meanwhile
      // Its pipes cannot be opened (a program since removed from the config): no grace to give.
      this.#log?.warn(
        { err, program: e.program, instance: e.index, pid: e.pid },
        'cannot watch a process left by the previous daemon; killing it',
      );
      const marker = treeMarkers(e.pid).at(-1);
      const root = { pid: e.pid, startTime: e.startTime, ...(marker === undefined ? {} : { marker }) };
      new TreeStop({ root, signal: 'SIGKILL', graceMs: 0, clock: this.#clock });
      return;
    }
    this.#log?.info({ program: e.program, instance: e.index, pid: e.pid }, 'stopping a process left by the previous daemon');
    m.kill();
    await m.wait().catch(() => {});
  }

  #intensityDetail(cfg: ProgramConfig, r: InstanceRecord): string {
    const e = r.lastExit;
    const last =
      e === undefined
        ? ''
        : ` (last exit code=${e.code} signal=${e.signal}${r.reason !== undefined && r.reason !== 'exit' && r.reason !== 'signal' ? ` reason=${r.reason}: ${r.detail ?? ''}` : ''})`;
    return `restart intensity exceeded: more than ${cfg.intensity} restarts in ${cfg.periodMs}ms${last}`;
  }

  // ---- commands ---------------------------------------------------------------------

  /** Commands run one at a time, in arrival order. */
  #command<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#commands.then(() => {
      if (this.#dying) throw new DeadError('the fleet is stopping; commands are refused');
      return fn();
    });
    this.#commands = run.catch(() => {});
    return run;
  }

  #target(target: string) {
    return parseTarget(target, [...this.#programs.keys()], (name) => this.#programs.get(name)!.config.instances);
  }

  #treeState(name: string): string | undefined {
    return this.#tree.children().find((c) => c.id === name)?.state;
  }

  async #stopProgram(name: string, why: Reason): Promise<void> {
    const p = this.#programs.get(name)!;
    p.held = true;
    for (const r of p.records) {
      r.held = true;
      if (r.pid !== null) r.stopReason = why;
    }
    const state = this.#treeState(name);
    if (state !== 'stopped' && state !== undefined) await this.#tree.terminateChild(name);
    for (const r of p.records) if (r.pid === null && r.state !== 'stopped') this.#set(r, 'stopped');
  }

  async #startProgram(name: string): Promise<void> {
    const p = this.#programs.get(name)!;
    const state = this.#treeState(name);
    if (state === 'running' && p.sup !== undefined) {
      // The program runs: start those of its instances that do not.
      for (const r of p.records)
        if (r.pid === null && r.state !== 'waiting' && r.state !== 'starting') await this.#startInstance(name, r.index);
      return;
    }
    p.held = false;
    for (const r of p.records) r.held = false;
    await this.#tree.restartChild(name);
  }

  async #restartProgram(name: string, why: Reason): Promise<void> {
    const p = this.#programs.get(name)!;
    p.held = false;
    for (const r of p.records) {
      r.held = false;
      if (r.pid !== null) r.stopReason = why;
    }
    await this.#tree.restartChild(name);
  }

  async #stopInstance(name: string, index: number, why: Reason): Promise<void> {
    const p = this.#programs.get(name)!;
    const r = p.records[index]!;
    r.held = true;
    if (r.pid !== null) r.stopReason = why;
    const sup = p.sup;
    if (sup !== undefined && sup.children().some((c) => c.id === String(index))) await sup.terminateChild(String(index));
    if (r.state !== 'stopped') this.#set(r, 'stopped');
  }

  async #startInstance(name: string, index: number): Promise<void> {
    const p = this.#programs.get(name)!;
    const r = p.records[index]!;
    r.held = false;
    if (p.sup === undefined || this.#treeState(name) !== 'running') return this.#startProgram(name);
    const child = p.sup.children().find((c) => c.id === String(index));
    if (child === undefined) await p.sup.startChild(this.#instanceSpec(p, r), this.#placement(p, index));
    else if (child.state !== 'running' && child.state !== 'starting') await p.sup.restartChild(String(index));
  }

  async #restartInstance(name: string, index: number, why: Reason): Promise<void> {
    const p = this.#programs.get(name)!;
    const r = p.records[index]!;
    r.held = false;
    if (r.pid !== null) r.stopReason = why;
    if (p.sup === undefined || this.#treeState(name) !== 'running') return this.#startProgram(name);
    const child = p.sup.children().find((c) => c.id === String(index));
    if (child === undefined) await p.sup.startChild(this.#instanceSpec(p, r), this.#placement(p, index));
    else await p.sup.restartChild(String(index));
  }

  // ---- rolling restarts (rolling.ts) -------------------------------------------------

  /** Replaces every instance of `name` one at a time; a program that is not running is simply restarted. */
  async #rollProgram(name: string, why: Reason): Promise<void> {
    const p = this.#programs.get(name)!;
    if (p.sup === undefined || this.#treeState(name) !== 'running') return this.#restartProgram(name, why);
    return this.#rollInstances(
      name,
      p.records.map((r) => r.index),
      why,
    );
  }

  async #rollInstances(name: string, indexes: number[], why: Reason): Promise<void> {
    const p = this.#programs.get(name)!;
    // A singleton's replacement would run beside it: it is restarted, never rolled.
    if (p.sup === undefined || this.#treeState(name) !== 'running' || p.config.placement === 'singleton')
      return this.#restartProgram(name, why);
    if (this.#socketsHeldElsewhere(p)) {
      this.#log?.warn(
        { program: name },
        'its sockets are held by processes adopted from an earlier daemon; restarting the whole program to bind them anew',
      );
      return this.#restartProgram(name, why);
    }
    p.held = false;
    await rollingRestart(this.#rollHost(p, why), indexes);
  }

  /**
   * After a daemon restart a program's sockets are the earlier daemon's, held only by its
   * adopted instances: no process can hand them to this daemon, so a replacement cannot get
   * them, and binding anew fails while any adopted instance still listens (docs/cli.md).
   */
  #socketsHeldElsewhere(p: Program): boolean {
    return (
      p.config.listen.length > 0 &&
      !this.#sockets.isBound(p.config.listen) &&
      p.records.some((r) => r.pid !== null && r.worker?.adopted === true)
    );
  }

  #rollHost(p: Program, why: Reason): RollHost {
    const rec = (i: number) => p.records[i]!;
    return {
      program: p.config.name,
      running: (i) =>
        rec(i).pid !== null &&
        (rec(i).state === 'running' || rec(i).state === 'ready') &&
        p.sup?.children().some((c) => c.id === String(i)) === true,
      pid: (i) => rec(i).pid,
      spawnReplacement: async (i) => {
        const r = rec(i);
        if (this.#dying) throw new DeadError('the fleet is stopping; commands are refused');
        const cfg = p.config;
        const listen = cfg.listen.length === 0 ? undefined : await this.#sockets.forProgram(cfg.name, cfg.listen);
        if (this.#dying) throw new DeadError('the fleet is stopping; commands are refused');
        // Its output goes through the instance's other pair of pipes while the old run still uses its own.
        const w = this.#fresh(cfg, r, r.slot === 'a' ? 'b' : 'a', listen);
        this.#replacements.add(w);
        // Recorded at once, so a daemon that dies during the roll leaves no process unaccounted for.
        this.#recordReplacement(cfg, r, w, false);
        w.ready().then(
          () => this.#replacements.has(w) && this.#recordReplacement(cfg, r, w, true),
          () => {},
        );
        if (w.pid !== null) this.#emit(r, 'started', `pid=${w.pid} replacing=${r.pid}`, w.startedAt);
        // As for a first start: a program without a ready check has no `ready` line.
        if (p.config.ready !== undefined) {
          w.ready().then(
            () => this.#emit(r, 'ready', `pid=${w.pid}`),
            () => {},
          );
        }
        return w;
      },
      handOver: (i, w) => this.#handOver(p, rec(i), w, why),
      restart: (i) => this.#restartInstance(p.config.name, i, why),
      failed: (i, w, err, message) => {
        this.#replacements.delete(w);
        const r = rec(i);
        if (w.pid !== null) this.#state?.delete(r.program, r.index, w.pid);
        const exit = w.exitInfo ?? { code: null, signal: null };
        r.reason = reasonOf(err);
        r.detail = message;
        this.#emit(
          r,
          'exited',
          `pid=${w.pid} code=${exit.code} signal=${exit.signal} reason=${r.reason} (replacement not ready: the roll stopped, pid ${r.pid} runs on)`,
        );
        this.#changed();
      },
    };
  }

  /**
   * The old run of `r` stops and the ready replacement `w` becomes its run, through the
   * Supervisor's restartChild (not counted): the child's start finds `r.replacement` and takes it.
   */
  async #handOver(p: Program, r: InstanceRecord, w: ProgramInstance, why: Reason): Promise<void> {
    this.#replacements.delete(w);
    r.replacement = w;
    r.stopReason = why;
    r.held = false;
    try {
      if (p.sup === undefined) throw new DeadError(`${p.config.name} stopped during its rolling restart`);
      await p.sup.restartChild(String(r.index));
    } finally {
      // Not taken (the Supervisor stopped, or the restart failed before the start): not left running.
      if (r.replacement === w) {
        r.replacement = undefined;
        w.kill();
        await w.wait().catch(() => {});
        if (w.pid !== null) this.#state?.delete(r.program, r.index, w.pid);
      }
    }
  }

  // ---- watch and cronRestart ---------------------------------------------------------

  /** Starts the program's watch and cronRestart (stopping any it had). */
  #armTriggers(cfg: ProgramConfig): void {
    this.#disarmTriggers(cfg.name);
    const triggers: { stop(): void }[] = [];
    if (cfg.watch !== undefined) {
      // The daemon's own files and every program's log change all the time: never a reason to restart.
      const always = [
        this.#config.home,
        ...this.#config.programs.flatMap((c) => Array.from({ length: c.instances }, (_, i) => this.#logFile(c, i).path)),
      ];
      triggers.push(
        new FileWatch({
          paths: cfg.watch.paths,
          ignored: ignoreMatcher(cfg.watch.ignore, cfg.cwd, always),
          debounceMs: cfg.watch.debounceMs,
          clock: this.#clock,
          onChange: (path) => this.#triggered(cfg.name, 'watch', path),
        }),
      );
    }
    if (cfg.cronRestart !== undefined)
      triggers.push(new CronRestart(cfg.cronRestart, this.#clock, () => this.#triggered(cfg.name, 'cron', cfg.cronRestart!)));
    if (triggers.length > 0) this.#triggers.set(cfg.name, triggers);
  }

  #disarmTriggers(name: string): void {
    for (const t of this.#triggers.get(name) ?? []) t.stop();
    this.#triggers.delete(name);
  }

  /** A watch or cron restart: a command like any other (one at a time), rolling when the program is. */
  #triggered(name: string, why: 'watch' | 'cron', what: string): void {
    this.#log?.info({ program: name, reason: why, what }, `${why} restart`);
    this.#command(async () => {
      const p = this.#programs.get(name);
      // Stopped by command: stays stopped until started by command.
      if (p === undefined || p.held) return;
      if (p.config.rolling) await this.#rollProgram(name, why);
      else await this.#restartProgram(name, why);
    }).catch((err: unknown) => {
      if (!this.#dying) this.#log?.warn({ program: name, reason: why, err }, `${why} restart failed`);
    });
  }

  /** Where an instance child goes back among its siblings: before the next higher index present. */
  #placement(p: Program, index: number): { before?: string } {
    const ids = new Set(p.sup!.children().map((c) => c.id));
    for (let i = index + 1; i < p.records.length; i++) if (ids.has(String(i))) return { before: String(i) };
    return {};
  }

  async #reload(next: FleetConfig): Promise<ReloadResult> {
    const key = (c: ProgramConfig) => JSON.stringify(c, (_k, v: unknown) => (v instanceof RegExp ? `/${v.source}/${v.flags}` : v));
    const nextByName = new Map(next.programs.map((c) => [c.name, c]));
    const strategyChanged = (next.strategy ?? 'one_for_one') !== (this.#config.strategy ?? 'one_for_one');
    const removed = [...this.#programs.keys()].filter((n) => !nextByName.has(n));
    const changed = next.programs
      .filter((c) => this.#programs.has(c.name) && (strategyChanged || key(this.#programs.get(c.name)!.config) !== key(c)))
      .map((c) => c.name);
    const added = next.programs.filter((c) => !this.#programs.has(c.name)).map((c) => c.name);
    // Changed programs with `rolling` stay in the tree and are replaced instance by instance.
    const rolled = changed.filter((name) => !strategyChanged && this.#rollsOnReload(this.#programs.get(name)!, nextByName.get(name)!));
    // Out, in reverse start order: removed and changed programs leave the tree.
    for (const name of [...this.#order()].reverse()) {
      if (!removed.includes(name) && !changed.includes(name)) continue;
      if (rolled.includes(name)) continue;
      for (const r of this.#programs.get(name)!.records) if (r.pid !== null) r.stopReason = 'command';
      await this.#tree.deleteChild(name);
    }
    const old = new Map(this.#programs);
    this.#programs.clear();
    for (const c of next.programs) {
      const prev = old.get(c.name);
      this.#programs.set(
        c.name,
        prev !== undefined && (!changed.includes(c.name) || rolled.includes(c.name)) ? prev : this.#newProgram(c, prev),
      );
    }
    this.#config = next;
    for (const name of removed) this.#disarmTriggers(name);
    for (const name of [...changed, ...added]) this.#armTriggers(nextByName.get(name)!);
    if (strategyChanged) {
      // A Supervisor's strategy is fixed: the tree is made anew (every program was changed, so it is empty).
      await this.#replaceTree();
    } else {
      // In, in start order: each goes before the first program in the tree that comes after it.
      const order = this.#order();
      for (const name of order) {
        if (this.#treeState(name) !== undefined) continue;
        const inTree = this.#tree.children().map((c) => c.id);
        const before = inTree.find((id) => dependsOn(id, name, nextByName));
        await this.#tree.startChild(this.#programSpec(name), before === undefined ? {} : { before });
      }
    }
    // Rolled last, in start order, so what they come after has been started again already.
    let rollError: Error | undefined;
    for (const name of this.#order()) {
      if (!rolled.includes(name)) continue;
      try {
        await this.#rollReload(this.#programs.get(name)!, nextByName.get(name)!);
      } catch (err) {
        rollError ??= toError(err);
      }
    }
    this.#sockets.retain(next.programs.map((c) => c.listen));
    this.#closeLogs(next);
    this.#changed();
    if (rollError !== undefined) throw rollError;
    return { added, removed, changed };
  }

  /**
   * A changed program is rolled by a reload when its new config has `rolling` and the change
   * leaves its Supervisor's shape alone: `restart`, `after`, `backoff`, intensity and period
   * are baked into the child specs, so changing them restarts the program as a whole.
   */
  #rollsOnReload(p: Program, next: ProgramConfig): boolean {
    if (!next.rolling || p.sup === undefined || this.#treeState(next.name) !== 'running') return false;
    const shape = (c: ProgramConfig) => JSON.stringify([c.restart, c.after, c.backoff, c.intensity, c.periodMs]);
    return shape(p.config) === shape(next);
  }

  /** A rolling reload of one program: the new settings, one instance at a time; instances added or removed at the end. */
  async #rollReload(p: Program, next: ProgramConfig): Promise<void> {
    const sup = p.sup;
    p.config = next;
    for (const r of p.records) r.memoryLimitBytes = next.memoryLimitBytes;
    if (sup === undefined) return;
    // Fewer instances: the ones beyond the new count go first, the others still serve.
    while (p.records.length > next.instances) {
      const r = p.records[p.records.length - 1]!;
      if (r.pid !== null) r.stopReason = 'command';
      if (sup.children().some((c) => c.id === String(r.index))) await sup.deleteChild(String(r.index));
      p.records.pop();
    }
    await rollingRestart(
      this.#rollHost(p, 'command'),
      p.records.map((r) => r.index),
    );
    while (p.records.length < next.instances) {
      const r = this.#newRecord(next, p.records.length);
      p.records.push(r);
      await sup.startChild(this.#instanceSpec(p, r));
    }
  }

  #treeEnded(tree: Supervisor, err: Error | undefined): void {
    if (tree !== this.#tree) return;
    this.#dying = true;
    this.#sampler.stop();
    for (const name of [...this.#triggers.keys()]) this.#disarmTriggers(name);
    this.#changed();
    // A roll's replacement is not in the tree: the fleet has stopped once it has, too.
    const replacements = [...this.#replacements].map((w) => (w.kill(), w.wait().catch(() => {})));
    void Promise.all(replacements).then(() => {
      this.#state?.flush();
      this.#sockets.close();
      this.#closeLogs(undefined);
      this.#settle(err);
    });
  }

  async #replaceTree(): Promise<void> {
    const old = this.#tree;
    this.#tree = this.#newTree();
    old.kill();
    await old.wait().catch(() => {});
  }

  // ---- bookkeeping ------------------------------------------------------------------

  /** `prev`: the program this one replaces (a reload changed it), whose instances' journals go on. */
  #newProgram(cfg: ProgramConfig, prev?: Program): Program {
    const records = Array.from({ length: cfg.instances }, (_, i) => this.#newRecord(cfg, i, prev?.records[i]?.journal));
    return { config: cfg, records, sup: undefined, culprit: undefined, held: false };
  }

  #newRecord(cfg: ProgramConfig, i: number, journal?: InstanceJournal): InstanceRecord {
    const r: InstanceRecord = new InstanceRecord(
      cfg.name,
      i,
      cfg.memoryLimitBytes,
      (rss) => {
        r.worker?.fail(new MemoryLimitError(`${cfg.name}[${i}]`, rss, r.memoryLimitBytes!));
      },
      journal,
    );
    r.state = 'waiting';
    return r;
  }

  #order(): string[] {
    return startOrder(this.#config.programs);
  }

  *#records(): Iterable<InstanceRecord> {
    for (const p of this.#programs.values()) yield* p.records;
  }

  /** The programs in `after` that `p` still waits for: known, not stopped by command, not ready. */
  #pendingDeps(p: Program): string[] {
    return p.config.after.filter((d) => {
      const dep = this.#programs.get(d);
      if (dep === undefined || dep.held) return false;
      const members = dep.records.filter((r) => !r.held);
      return members.length > 0 && !members.every((r) => r.isReady);
    });
  }

  /** A program run has settled once each instance is ready, has ended, or waits for `after`. */
  #settled(p: Program): boolean {
    const members = p.records.filter((r) => !r.held);
    if (members.some((r) => r.attempted && (r.state === 'waiting' || r.state === 'standby'))) return true;
    return members.every((r) => r.attempted && r.state !== 'starting');
  }

  /** Resolves once `cond` holds (checked at every change); rejects with the signal's reason on abort. */
  #until(cond: () => boolean, signal: AbortSignal | undefined): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      const done = () => {
        this.#waiters.delete(check);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#waiters.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #set(r: InstanceRecord, state: InstanceRecord['state']): void {
    r.state = state;
    this.#changed();
  }

  #changed(): void {
    for (const check of [...this.#waiters]) check();
    if (this.#events.has('change')) this.#events.emit('change', null);
  }

  /** `at` defaults to now; a start is dated at its spawn, which a busy loop may have delayed the event behind. */
  #emit(r: InstanceRecord, event: EventName, details = '', at = this.#clock.now()): void {
    const e: LifecycleEvent = { at, program: r.program, instance: r.index, event, details };
    this.#log?.info({ program: r.program, instance: r.index, event }, details);
    r.journal.event(e, r.reason, r.detail);
    if (this.#events.has('event')) this.#events.emit('event', e);
  }

  /**
   * The one writer of an instance's log, shared by all its runs (a rolling restart's old and
   * new process, an adopted one): one writer keeps the size for rotation and the index's
   * offsets right. Raw bytes in the file, time and stream in its index (docs/cli.md, Logs).
   */
  #logWriter(c: ProgramConfig, i: number): LogFile {
    const o = this.#logFile(c, i);
    const key = JSON.stringify(o);
    const have = this.#logs.get(o.path);
    if (have !== undefined && have.key === key) return have.file;
    have?.file.close().catch(() => {});
    const file = new LogFile({
      ...o,
      index: true,
      clock: this.#clock,
      onError: (err) =>
        this.#log?.warn({ err, program: c.name, instance: i }, 'log file write failed; output is dropped until it works again'),
      onRecover: (droppedBytes) => this.#log?.info({ program: c.name, instance: i, droppedBytes }, 'log file written again'),
    });
    this.#logs.set(o.path, { key, file });
    return file;
  }

  /** Closes the writers of logs no program of the config writes any more. */
  #closeLogs(keep: FleetConfig | undefined): void {
    const paths = new Set((keep?.programs ?? []).flatMap((c) => Array.from({ length: c.instances }, (_, i) => this.#logFile(c, i).path)));
    for (const [path, { file }] of this.#logs) {
      if (paths.has(path)) continue;
      this.#logs.delete(path);
      void file.close();
    }
  }

  #logFile(c: ProgramConfig, i: number): ProgramLogFile {
    return programLogFile(this.#config.home, c, i);
  }
}

/** What an instance was started as: a running process is adopted only if the config still says the same. */
function fingerprint(cfg: ProgramConfig): string {
  return JSON.stringify([argvOf(cfg), cfg.cwd, cfg.env]);
}

export { NotFoundError };

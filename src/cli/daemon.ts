// The daemon: supervises the programs of one config, answers the control socket and (loaded
// only when enabled) serves the dashboard. Programs start in `after` order, each waiting for
// its dependencies to be ready; they stop in the reverse order: a program stops once every
// running program that waits for it has stopped. Unrelated programs start and stop in parallel.
// Under one_for_all / rest_for_one a crash the policy restarts also restarts the running
// instances of every program (or of the crashed one and those after it in start order): they
// stop one program at a time in reverse start order, then start in start order.

import { closeSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { systemClock } from '../core/clock.js';
import { ConfigError, loadConfig, type DaemonConfig, type ProgramConfig } from '../fleet/config.js';
import { failure, request, serveControl, type Reply, type Request } from './control.js';
import { checkLogFiles, HomeError, openHome, programLogOptions, readHomeFile, writeHomeFile } from './home.js';
import { Instance, type LastExit, type LifecycleEvent, type State } from './instance.js';
import { paths } from './paths.js';
import { Sampler } from './sampler.js';

export { paths };

export interface ProgramStatus {
  name: string;
  instance: number;
  pid: number | null;
  state: State;
  restarts: number;
  uptimeMs: number;
  memoryBytes: number;
  cpuPercent: number;
  lastExit?: LastExit;
  /** Why it failed (or was last restarted), when known. */
  reason?: string;
}

export interface LogFileRef {
  name: string;
  instance: number;
  path: string;
}

export interface StatusBody {
  programs: ProgramStatus[];
}

/** What the dashboard needs of the daemon. */
export interface DaemonView {
  readonly token: string;
  status(): StatusBody;
  freshStatus(): StatusBody;
  watch(delta: 1 | -1): void;
  /** Recent output lines and CPU history of each instance, keyed `name[instance]`. */
  details(): Record<string, { tail: string[]; cpu: number[] }>;
  act(action: 'start' | 'stop' | 'restart', target: string): Promise<Reply>;
  /** Subscribes to lifecycle events and state changes; returns the unsubscribe. */
  subscribe(fn: (event: LifecycleEvent | null) => void): () => void;
}

interface Program {
  config: ProgramConfig;
  instances: Instance[];
  /** Bumped by every stop, so a start still waiting for its `after` programs gives up. */
  generation: number;
}

export function formatEvent(e: LifecycleEvent): string {
  return `${new Date(e.at).toISOString()} ${e.program}[${e.instance}] ${e.event}${e.details === '' ? '' : ` ${e.details}`}`;
}

export class Daemon implements DaemonView {
  config: DaemonConfig;
  readonly token = newToken();
  readonly #programs = new Map<string, Program>();
  readonly #listeners = new Set<(event: LifecycleEvent | null) => void>();
  #paths: ReturnType<typeof paths>;
  readonly #sampler: Sampler;
  readonly #out: (line: string) => void;
  readonly #err: (line: string) => void;
  #control: Server | undefined;
  #closeDashboard: (() => Promise<void>) | undefined;
  #shutdown: Promise<void> | undefined;
  #watchers = 0;
  /** Group restarts run one after another; a crash during one waits for it. */
  #groups: Promise<void> = Promise.resolve();
  #exited!: () => void;
  readonly exited = new Promise<void>((resolve) => (this.#exited = resolve));

  /** `out` gets lifecycle lines, `err` (default: `out`) the reasons the daemon cannot start. */
  constructor(config: DaemonConfig, out: (line: string) => void, err: (line: string) => void = out) {
    this.config = config;
    this.#out = out;
    this.#err = err;
    this.#paths = paths(config.home);
    this.#sampler = new Sampler(() => this.#instances(), systemClock, () => this.#watchers > 0);
  }

  /**
   * Takes the home (refusing when another daemon holds it), opens the socket and dashboard and
   * starts the programs. Returns an exit code: 0 once started, 1 when another daemon runs.
   */
  async open(): Promise<number> {
    try {
      // From here on the daemon uses the checked real path, never the configured one.
      this.#paths = paths(openHome(this.config.home));
      checkLogFiles(this.#logFiles(this.config.programs));
    } catch (err) {
      if (!(err instanceof HomeError)) throw err;
      this.#err(err.message);
      return 1;
    }
    const p = this.#paths;
    const other = await runningDaemon(p);
    if (other !== undefined) {
      this.#err(`bosun: a daemon is already running on ${this.config.home} (pid ${other}); use \`bosun shutdown --home ${this.config.home}\` to stop it`);
      return 1;
    }
    writeHomeFile(p.pid, `${process.pid}\n`, 0o644);
    writeHomeFile(p.token, `${this.token}\n`, 0o600);
    if (this.config.dashboard !== false) {
      // Loaded only when enabled, so a daemon without a dashboard never pays for it.
      const { startDashboard } = await import('./dashboard/server.js');
      const { host, port } = this.config.dashboard;
      let dash;
      try {
        dash = await startDashboard(this, { host, port });
      } catch (err) {
        rmSync(p.pid, { force: true });
        rmSync(p.token, { force: true });
        this.#err(`bosun: the dashboard cannot listen on ${host}:${port} (${(err as Error).message}); set dashboard.port (0 picks a free port) or dashboard: false`);
        return 1;
      }
      this.#closeDashboard = dash.close;
      this.#out(`dashboard http://${dash.host}:${dash.port}/`);
      this.#out(`dashboard token in ${p.token}; open http://${dash.host}:${dash.port}/#token=${this.token} to use its buttons`);
    }
    // The socket opens last: a client that reaches it (`bosun start` waits for that) finds the daemon up.
    this.#control = await serveControl(p.socket, (req) => this.#handle(req));
    for (const cfg of this.config.programs) this.#add(cfg);
    await this.#startPrograms([...this.#programs.keys()]);
    return 0;
  }

  /** Stops every program in reverse order, closes the socket and dashboard, removes the pid file. */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      await this.#stopPrograms([...this.#programs.keys()]);
      this.#sampler.stop();
      await this.#closeDashboard?.();
      // Not awaited: close() waits for open connections, and the shutdown request is one of them.
      this.#control?.close();
      rmSync(this.#paths.socket, { force: true });
      rmSync(this.#paths.pid, { force: true });
      rmSync(this.#paths.token, { force: true });
      this.#exited();
    })();
    return this.#shutdown;
  }

  status(): StatusBody {
    const programs: ProgramStatus[] = [];
    for (const inst of this.#instances()) {
      const s: ProgramStatus = {
        name: inst.name,
        instance: inst.index,
        pid: inst.pid,
        state: inst.state,
        restarts: inst.restarts,
        uptimeMs: inst.uptimeMs(),
        memoryBytes: inst.pid === null ? 0 : inst.memoryBytes,
        cpuPercent: inst.pid === null ? 0 : inst.cpuPercent,
      };
      if (inst.lastExit !== undefined) s.lastExit = inst.lastExit;
      // A reason explains a state that is not the healthy one; a running instance shows none.
      if (inst.reason !== undefined && inst.pid === null) s.reason = inst.reason;
      programs.push(s);
    }
    return { programs };
  }

  details(): Record<string, { tail: string[]; cpu: number[] }> {
    const out: Record<string, { tail: string[]; cpu: number[] }> = {};
    for (const inst of this.#instances()) out[`${inst.name}[${inst.index}]`] = { tail: inst.tail(), cpu: [...inst.cpuHistory] };
    return out;
  }

  /** Where each instance's output goes. */
  logFiles(): LogFileRef[] {
    return [...this.#instances()].map((i) => ({ name: i.name, instance: i.index, path: this.#logFile(i.config, i.index).path }));
  }

  #logFile(c: ProgramConfig, i: number) {
    return programLogOptions({
      path: c.logs.file === undefined ? join(this.#paths.logs, `${c.name}-${i}.log`) : c.instances > 1 ? c.logs.file.replace(/(\.log)?$/, `-${i}$1`) : c.logs.file,
      maxSize: c.logs.maxSize,
      keep: c.logs.keep,
    });
  }

  #logFiles(programs: ProgramConfig[]) {
    return programs.flatMap((c) => Array.from({ length: c.instances }, (_, i) => this.#logFile(c, i)));
  }

  subscribe(fn: (event: LifecycleEvent | null) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Status with current memory and CPU figures (sampling now if no recent sample). */
  freshStatus(): StatusBody {
    this.#sampler.fresh();
    return this.status();
  }

  /** A live view (dashboard stream) opened or closed: samples flow every second while any is open. */
  watch(delta: 1 | -1): void {
    this.#watchers += delta;
    if (delta > 0) this.#sampler.wake();
  }

  async act(action: 'start' | 'stop' | 'restart', target: string): Promise<Reply> {
    if (this.#shutdown !== undefined) return failure('ERR_SHUTTING_DOWN', 'the daemon is shutting down');
    const names = target === 'all' ? [...this.#programs.keys()] : [target];
    if (target !== 'all' && !this.#programs.has(target)) return failure('ERR_NOT_FOUND', `unknown program '${target}' (known: ${[...this.#programs.keys()].join(', ')})`);
    if (action === 'stop') await this.#stopPrograms(names);
    else if (action === 'start') await this.#startPrograms(names);
    else {
      await this.#stopPrograms(names);
      await this.#startPrograms(names);
    }
    return { ok: true, result: this.status() };
  }

  *#instances(): Iterable<Instance> {
    for (const p of this.#programs.values()) yield* p.instances;
  }

  #add(cfg: ProgramConfig): void {
    const hooks = {
      emit: (e: LifecycleEvent) => {
        this.#out(formatEvent(e));
        for (const fn of this.#listeners) fn(e);
      },
      changed: () => {
        for (const fn of this.#listeners) fn(null);
      },
      logFile: (c: ProgramConfig, i: number) => this.#logFile(c, i),
      restartGroup: (inst: Instance) => this.#restartGroup(inst),
    };
    const instances = Array.from({ length: cfg.instances }, (_, i) => new Instance(cfg, i, hooks));
    this.#programs.set(cfg.name, { config: cfg, instances, generation: 0 });
  }

  /**
   * Program names in start order: each after the programs in its `after`, ties in config order.
   * (Boot starts unrelated programs in parallel; this is the order a group restart uses.)
   */
  #startOrder(): string[] {
    const order: string[] = [];
    const left = [...this.#programs.values()].map((p) => p.config);
    while (left.length > 0) {
      // Validation refuses cycles; the fallback only keeps a bug from looping forever.
      const i = Math.max(0, left.findIndex((c) => c.after.every((d) => order.includes(d) || !this.#programs.has(d))));
      order.push(left.splice(i, 1)[0]!.name);
    }
    return order;
  }

  /** The instance hook: under a group strategy, queue the group restart and take the instance's restart over. */
  #restartGroup(inst: Instance): boolean {
    const strategy = this.config.strategy ?? 'one_for_one';
    if (strategy === 'one_for_one' || this.#shutdown !== undefined) return false;
    this.#groups = this.#groups.then(() => this.#runGroupRestart(inst, strategy)).catch((err: unknown) => this.#err(`bosun: group restart after ${inst.name}[${inst.index}] failed: ${(err as Error).message}`));
    return true;
  }

  /**
   * Stops the running instances of the group (one program at a time, reverse start order, each
   * with its killTimeout) while `crashed` backs off, then starts them in start order, each
   * program once the running programs in its `after` are ready. Failed instances and those
   * stopped by command are left alone; so is a program a command acts on meanwhile.
   */
  async #runGroupRestart(crashed: Instance, strategy: 'one_for_all' | 'rest_for_one'): Promise<void> {
    // Already handled: a group restart before this one stopped and restarted it.
    if (!crashed.awaitingGroup) return;
    const order = this.#startOrder();
    const group = strategy === 'one_for_all' ? order : order.slice(Math.max(0, order.indexOf(crashed.name)));
    const members = group.flatMap((name) => {
      const prog = this.#programs.get(name);
      if (prog === undefined) return [];
      const instances = prog.instances.filter((i) => i === crashed || i.running);
      return instances.length === 0 ? [] : [{ name, prog, generation: prog.generation, instances }];
    });
    const stopping = (async () => {
      for (const m of [...members].reverse()) await Promise.all(m.instances.filter((i) => i !== crashed).map((i) => i.stop()));
    })();
    await Promise.all([stopping, crashed.backoffDone()]);
    for (const m of members) {
      // A stop, restart or reload of this program (or a shutdown) since the crash wins.
      if (this.#shutdown !== undefined || m.prog.generation !== m.generation || this.#programs.get(m.name) !== m.prog) continue;
      const deps = m.prog.config.after.filter((d) => this.#programs.has(d));
      try {
        await Promise.all(deps.flatMap((d) => this.#programs.get(d)!.instances.filter((i) => i.running).map((i) => i.whenReady())));
      } catch {
        for (const inst of m.instances) if (!inst.running) inst.reason = `not restarted: a program in after (${deps.join(', ')}) stopped before it was ready`;
        if (crashed.running && m.instances.includes(crashed)) await crashed.stop();
        continue;
      }
      if (this.#shutdown !== undefined || m.prog.generation !== m.generation) continue;
      await Promise.all(m.instances.map((i) => i.start(true)));
    }
    this.#sampler.wake();
  }

  /** Starts `names`, each once the running programs it waits for are ready; resolves once all spawned. */
  async #startPrograms(names: string[]): Promise<void> {
    const starting = new Map<string, Promise<void>>();
    const startOne = (name: string): Promise<void> => {
      let p = starting.get(name);
      if (p !== undefined) return p;
      p = (async () => {
        const prog = this.#programs.get(name);
        if (prog === undefined) return;
        const generation = prog.generation;
        const deps = prog.config.after.filter((d) => this.#programs.has(d));
        // Dependencies being started now are waited for; running ones must be ready; stopped
        // ones outside this start are not pulled in (`after` orders, like systemd's After=).
        await Promise.all(deps.map((d) => (names.includes(d) ? startOne(d) : Promise.resolve())));
        try {
          await Promise.all(deps.flatMap((d) => this.#programs.get(d)!.instances.filter((i) => i.running).map((i) => i.whenReady())));
        } catch {
          for (const inst of prog.instances) if (!inst.running) inst.reason = `not started: a program in after (${deps.join(', ')}) stopped before it was ready`;
          return;
        }
        // A stop (or shutdown) that came while this start waited wins.
        if (prog.generation !== generation || this.#shutdown !== undefined) return;
        await Promise.all(prog.instances.map((i) => i.start()));
      })();
      starting.set(name, p);
      return p;
    };
    await Promise.all(names.map(startOne));
    this.#sampler.wake();
  }

  /** Stops `names`, each once the running programs among them that wait for it have stopped. */
  async #stopPrograms(names: string[]): Promise<void> {
    const stopping = new Map<string, Promise<void>>();
    const stopOne = (name: string): Promise<void> => {
      let p = stopping.get(name);
      if (p !== undefined) return p;
      p = (async () => {
        const prog = this.#programs.get(name);
        if (prog !== undefined) prog.generation++;
        const dependents = names.filter((n) => n !== name && this.#programs.get(n)?.config.after.includes(name));
        await Promise.all(dependents.map(stopOne));
        await Promise.all((prog?.instances ?? []).map((i) => i.stop()));
      })();
      stopping.set(name, p);
      return p;
    };
    await Promise.all(names.map(stopOne));
  }

  /** Applies the edited config: starts added programs, stops removed ones, restarts changed ones only. */
  async #reload(): Promise<Reply> {
    let next: DaemonConfig;
    try {
      next = await loadConfig(this.config.file);
    } catch (err) {
      if (err instanceof ConfigError) return failure('ERR_CONFIG', err.problems.join('\n'));
      throw err;
    }
    try {
      checkLogFiles(this.#logFiles(next.programs));
    } catch (err) {
      if (err instanceof HomeError) return failure('ERR_CONFIG', err.message);
      throw err;
    }
    const key = (c: ProgramConfig) => JSON.stringify(c, (_k, v: unknown) => (v instanceof RegExp ? v.source : v));
    const nextByName = new Map(next.programs.map((c) => [c.name, c]));
    const removed = [...this.#programs.keys()].filter((n) => !nextByName.has(n));
    const changed = next.programs.filter((c) => this.#programs.has(c.name) && key(this.#programs.get(c.name)!.config) !== key(c)).map((c) => c.name);
    const added = next.programs.filter((c) => !this.#programs.has(c.name)).map((c) => c.name);
    await this.#stopPrograms([...removed, ...changed]);
    for (const n of removed) this.#programs.delete(n);
    // Rebuild in the new file order so status lists programs as the file does.
    const old = new Map(this.#programs);
    this.#programs.clear();
    for (const c of next.programs) {
      const prev = old.get(c.name);
      if (prev !== undefined && !changed.includes(c.name)) this.#programs.set(c.name, prev);
      else this.#add(c);
    }
    this.config = { ...this.config, strategy: next.strategy, programs: next.programs };
    await this.#startPrograms([...changed, ...added]);
    for (const fn of this.#listeners) fn(null);
    return { ok: true, result: { added, removed, changed } };
  }

  async #handle(req: Request): Promise<Reply> {
    switch (req.cmd) {
      case 'ping':
        return { ok: true, result: { pid: process.pid } };
      case 'status':
        return { ok: true, result: this.freshStatus() };
      case 'start':
      case 'stop':
      case 'restart':
        return this.act(req.cmd, req.target);
      case 'logfiles':
        return { ok: true, result: this.logFiles() };
      case 'reload':
        return this.#reload();
      case 'shutdown':
        await this.shutdown();
        return { ok: true };
      default:
        return failure('ERR_BAD_REQUEST', `unknown request '${(req as { cmd: string }).cmd}'`);
    }
  }
}

/** The pid of a live daemon on this home, if any: one whose socket answers, or whose pid file names a live bosun. */
async function runningDaemon(p: ReturnType<typeof paths>): Promise<number | undefined> {
  let pid: number | undefined;
  try {
    pid = Number(readHomeFile(p.pid)?.trim()) || undefined;
  } catch {
    pid = undefined;
  }
  try {
    const reply = await request(p.socket, { cmd: 'ping' });
    if (reply.ok) return (reply.result as { pid: number }).pid;
  } catch {
    // nothing answers: fall through to the pid file
  }
  if (pid === undefined || pid === process.pid) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return /bosun|cli\/main/.test(cmdline) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * 256 random bits in hex, read from the kernel's CSPRNG. Not node:crypto: loading it (with
 * OpenSSL's state) costs the idle daemon about 2.4 MB of resident memory for 32 bytes.
 */
function newToken(): string {
  const bytes = Buffer.alloc(32);
  const fd = openSync('/dev/urandom', 'r');
  try {
    let got = 0;
    while (got < bytes.length) {
      const n = readSync(fd, bytes, got, bytes.length - got, null);
      if (n <= 0) throw new Error('/dev/urandom returned no bytes');
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return bytes.toString('hex');
}

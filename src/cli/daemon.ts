// The daemon: a thin shell around a Fleet. It takes the home (pid file, token, control
// socket), serves the dashboard when enabled, prints one line per lifecycle event, and turns
// control-socket requests into Fleet commands. Supervision itself is the Fleet's, on core.

import { closeSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { ConfigError, loadConfig, type DaemonConfig } from '../fleet/config.js';
import { Fleet } from '../fleet/fleet.js';
import type { InstanceDetails } from '../fleet/record.js';
import { programLogFiles } from '../fleet/log-files.js';
import { formatEvent, type LifecycleEvent, type LogFileRef, type StatusBody } from '../fleet/status.js';
import { failure, failureOf, request, serveControl, type Reply, type Request } from './control.js';
import { checkLogFiles, HomeError, openHome, readHomeFile, writeHomeFile } from './home.js';
import { paths } from './paths.js';

export { paths, formatEvent };
export type { LastExit, LifecycleEvent, LogFileRef, ProgramStatus, State, StatusBody } from '../fleet/status.js';

/** What the dashboard needs of the daemon. */
export interface DaemonView {
  readonly token: string;
  /** The config the fleet runs now (reload replaces it): the dashboard's program details. */
  readonly config: DaemonConfig;
  status(): StatusBody;
  freshStatus(): StatusBody;
  watch(delta: 1 | -1): void;
  /** Recent output and lifecycle events (across restarts), CPU and memory history of each instance, keyed `name[instance]`. */
  details(): Record<string, InstanceDetails>;
  act(action: 'start' | 'stop' | 'restart', target: string): Promise<Reply>;
  /** Subscribes to lifecycle events (and to state changes, as null); returns the unsubscribe. */
  subscribe(fn: (event: LifecycleEvent | null) => void): () => void;
}

export class Daemon implements DaemonView {
  config: DaemonConfig;
  readonly token = newToken();
  readonly #listeners = new Set<(event: LifecycleEvent | null) => void>();
  #paths: ReturnType<typeof paths>;
  readonly #out: (line: string) => void;
  readonly #err: (line: string) => void;
  #fleet: Fleet | undefined;
  #control: Server | undefined;
  #closeDashboard: (() => Promise<void>) | undefined;
  #shutdown: Promise<void> | undefined;
  #exited!: () => void;
  readonly exited = new Promise<void>((resolve) => (this.#exited = resolve));

  /** `out` gets lifecycle lines, `err` (default: `out`) the reasons the daemon cannot start. */
  constructor(config: DaemonConfig, out: (line: string) => void, err: (line: string) => void = out) {
    this.config = config;
    this.#out = out;
    this.#err = err;
    this.#paths = paths(config.home);
  }

  /**
   * Takes the home (refusing when another daemon holds it), opens the dashboard and the socket
   * and starts the fleet. Returns an exit code: 0 once started, 1 when it cannot start.
   */
  async open(): Promise<number> {
    try {
      // From here on the daemon and its fleet use the checked real path, never the configured one.
      const home = openHome(this.config.home);
      this.config = { ...this.config, home };
      this.#paths = paths(home);
      checkLogFiles(programLogFiles(this.config));
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
        dash = await startDashboard(this, { host, port, ...(this.config.queue ? { queue: this.config.queue } : {}) });
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
    const fleet = new Fleet({ config: this.config });
    this.#fleet = fleet;
    fleet.on('event', (e) => {
      this.#out(formatEvent(e));
      for (const fn of this.#listeners) fn(e);
    });
    fleet.on('change', () => {
      for (const fn of this.#listeners) fn(null);
    });
    fleet.wait().catch((err: unknown) => this.#err(`bosun: the fleet stopped with an error: ${(err as Error).message}`));
    // The socket opens last: a client that reaches it (`bosun start` waits for that) finds the daemon up.
    this.#control = await serveControl(p.socket, (req) => this.#handle(req));
    return 0;
  }

  /** Stops every program in reverse start order, closes the socket and dashboard, removes the pid file. */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      const fleet = this.#fleet;
      if (fleet !== undefined) {
        fleet.kill();
        await fleet.wait().catch(() => {});
      }
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
    return this.#fleet?.status() ?? { programs: [] };
  }

  freshStatus(): StatusBody {
    return this.#fleet?.freshStatus() ?? { programs: [] };
  }

  details(): Record<string, InstanceDetails> {
    return this.#fleet?.details() ?? {};
  }

  /** Where each instance's output goes. */
  logFiles(): LogFileRef[] {
    return this.#fleet?.logFiles() ?? [];
  }

  subscribe(fn: (event: LifecycleEvent | null) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** A live view (dashboard stream) opened or closed: samples flow every second while any is open. */
  watch(delta: 1 | -1): void {
    this.#fleet?.watch(delta);
  }

  async act(action: 'start' | 'stop' | 'restart', target: string, options: { rolling?: boolean } = {}): Promise<Reply> {
    const fleet = this.#fleet;
    if (this.#shutdown !== undefined || fleet === undefined) return failure('ERR_SHUTTING_DOWN', 'the daemon is shutting down');
    try {
      if (action === 'restart') await fleet.restart(target, options);
      else await fleet[action](target);
    } catch (err) {
      return failureOf(err);
    }
    return { ok: true, result: this.status() };
  }

  /** Applies the edited config file: starts added programs, stops removed ones, restarts changed ones only. */
  async #reload(): Promise<Reply> {
    let next: DaemonConfig;
    try {
      next = await loadConfig(this.config.file);
    } catch (err) {
      if (err instanceof ConfigError) return failure('ERR_CONFIG', err.problems.join('\n'));
      throw err;
    }
    // Where the daemon lives and what it serves are fixed for its life; programs follow the file.
    next = { ...next, home: this.config.home, dashboard: this.config.dashboard };
    try {
      checkLogFiles(programLogFiles(next));
    } catch (err) {
      if (err instanceof HomeError) return failure('ERR_CONFIG', err.message);
      throw err;
    }
    const fleet = this.#fleet;
    if (this.#shutdown !== undefined || fleet === undefined) return failure('ERR_SHUTTING_DOWN', 'the daemon is shutting down');
    try {
      const result = await fleet.reload(next);
      this.config = next;
      return { ok: true, result };
    } catch (err) {
      return failureOf(err);
    }
  }

  async #handle(req: Request): Promise<Reply> {
    switch (req.cmd) {
      case 'ping':
        return { ok: true, result: { pid: process.pid } };
      case 'status':
        return { ok: true, result: this.freshStatus() };
      case 'start':
      case 'stop':
        return this.act(req.cmd, req.target);
      case 'restart':
        return this.act(req.cmd, req.target, typeof req.rolling === 'boolean' ? { rolling: req.rolling } : {});
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

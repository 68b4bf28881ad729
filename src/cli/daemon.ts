// The daemon: a thin shell around a Fleet. It takes the home (pid file, token, control
// socket), serves the dashboard when enabled, prints one line per lifecycle event, and turns
// control-socket requests into Fleet commands. Supervision itself is the Fleet's, on core.

import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { ConfigError, loadConfig, type DaemonConfig } from '../fleet/config.js';
import { Fleet } from '../fleet/fleet.js';
import type { HostLink } from '../fleet/host-link.js';
import type { FleetStatusBody } from '../fleet/hosts.js';
import type { InstanceDetails } from '../fleet/record.js';
import { programLogFiles } from '../fleet/log-files.js';
import { formatEvent, type LifecycleEvent, type LogFileRef, type StatusBody } from '../fleet/status.js';
import { failure, failureOf, request, serveControl, type Reply, type Request } from './control.js';
import type { OutputProblem } from './daemon-output.js';
import { checkLogFiles, HomeError, openHome, writeHomeFile } from './home.js';
import { paths } from './paths.js';
import { livePid, readPidFile, writePidFile } from './pidfile.js';

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
  /** Every host of the fleet; undefined when the daemon is not in one. */
  fleetStatus(): Promise<FleetStatusBody> | undefined;
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
  readonly #reopenOwnOutput: (() => void) | undefined;
  readonly #outputProblems: () => OutputProblem[];
  #fleet: Fleet | undefined;
  /** With `fleet` in the config: this daemon's link to the fleet's database. */
  #hosts: HostLink | undefined;
  #control: Server | undefined;
  #closeDashboard: (() => Promise<void>) | undefined;
  #shutdown: Promise<void> | undefined;
  #opened: Promise<void> = Promise.resolve();
  #exited!: () => void;
  readonly exited = new Promise<void>((resolve) => (this.#exited = resolve));

  /**
   * `out` gets lifecycle lines, `err` (default: `out`) the reasons the daemon cannot start;
   * `reopenOwnOutput` reopens daemon.log (see reopenLogs), `outputProblems` says which of the
   * daemon's own destinations fail now (for status).
   */
  constructor(
    config: DaemonConfig,
    out: (line: string) => void,
    err: (line: string) => void = out,
    reopenOwnOutput?: () => void,
    outputProblems: () => OutputProblem[] = () => [],
  ) {
    this.config = config;
    this.#out = out;
    this.#err = err;
    this.#reopenOwnOutput = reopenOwnOutput;
    this.#outputProblems = outputProblems;
    this.#paths = paths(config.home);
  }

  /**
   * Takes the home (refusing when another daemon holds it), opens the dashboard and the socket
   * and starts the fleet. Returns an exit code: 0 once started, 1 when it cannot start, 2 when
   * the config's fleet database cannot be used or its host name is taken.
   */
  open(): Promise<number> {
    const opening = this.#open();
    // A shutdown that comes while opening (a signal during start-up) waits for it, so it stops the fleet open started.
    this.#opened = opening.then(
      () => {},
      () => {},
    );
    return opening;
  }

  async #open(): Promise<number> {
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
      this.#err(
        `bosun: a daemon is already running on ${this.config.home} (pid ${other}); use \`bosun shutdown --home ${this.config.home}\` to stop it`,
      );
      return 1;
    }
    writePidFile(p.pid);
    writeHomeFile(p.token, `${this.token}\n`, 0o600);
    if (this.config.fleet !== undefined) {
      const code = await this.#joinFleet();
      if (code !== 0) return code;
    }
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
        await this.#hosts?.close();
        this.#err(
          `bosun: the dashboard cannot listen on ${host}:${port} (${(err as Error).message}); set dashboard.port (0 picks a free port) or dashboard: false`,
        );
        return 1;
      }
      this.#closeDashboard = dash.close;
      this.#out(`dashboard http://${dash.host}:${dash.port}/`);
      this.#out(`dashboard token in ${p.token}; open http://${dash.host}:${dash.port}/#token=${this.token} to use its buttons`);
    }
    const fleet = new Fleet({ config: this.config, ...(this.#hosts === undefined ? {} : { hosts: this.#hosts }) });
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
      await this.#opened;
      const fleet = this.#fleet;
      if (fleet !== undefined) {
        fleet.kill();
        await fleet.wait().catch(() => {});
      }
      // After the fleet: its singletons released their leases through this link.
      await this.#hosts?.close();
      await this.#closeDashboard?.();
      // Not awaited: close() waits for open connections, and the shutdown request is one of them.
      this.#control?.close();
      // Only what this daemon made: after a refused open the files are the running daemon's.
      if (this.#control !== undefined) rmSync(this.#paths.socket, { force: true });
      if (readPidFile(this.#paths.pid) === process.pid) {
        rmSync(this.#paths.pid, { force: true });
        rmSync(this.#paths.token, { force: true });
      }
      this.#exited();
    })();
    return this.#shutdown;
  }

  /** Reopens every log file by its path (logrotate moved them): daemon.log, then the programs'. `bosun logs --reopen` and SIGUSR1. */
  /** SIGKILLs every program's tree now: the daemon is about to exit without stopping them (a second signal). */
  killNow(): void {
    this.#fleet?.killNow();
  }

  reopenLogs(): void {
    this.#reopenOwnOutput?.();
    this.#fleet?.reopenLogs();
  }

  status(): StatusBody {
    return this.#withOutputProblems(this.#fleet?.status() ?? { programs: [] });
  }

  #withOutputProblems(body: StatusBody): StatusBody {
    const problems = this.#outputProblems();
    return problems.length === 0 ? body : { ...body, daemonOutput: problems };
  }

  /** Every host of the fleet (`bosun status --fleet`); undefined when this daemon is not in one. */
  fleetStatus(): Promise<FleetStatusBody> | undefined {
    return this.#hosts?.fleetStatus();
  }

  /**
   * Connects to the fleet's database and claims the host name before any program starts. Loaded
   * only with `fleet`, so a daemon without it never loads pg. A database that cannot be used is
   * a config problem at fleet.database (exit 2): a daemon that cannot register is invisible to
   * its fleet and its singletons could never run; a supervisor (systemd) retries the start.
   */
  async #joinFleet(): Promise<number> {
    const { connectHost } = await import('../fleet/host-link.js');
    try {
      this.#hosts = await connectHost(this.config);
      return 0;
    } catch (err) {
      rmSync(this.#paths.pid, { force: true });
      rmSync(this.#paths.token, { force: true });
      const code = (err as { code?: string }).code;
      if (code === 'ERR_FLEET_DATABASE' || code === 'ERR_HOST_CLAIMED') {
        this.#err((err as Error).message);
        return 2;
      }
      throw err;
    }
  }

  freshStatus(): StatusBody {
    return this.#withOutputProblems(this.#fleet?.freshStatus() ?? { programs: [] });
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
      next = await loadConfig(this.config.file, { home: this.config.home });
    } catch (err) {
      if (err instanceof ConfigError) return failure('ERR_CONFIG', err.problems.join('\n'));
      throw err;
    }
    // Where the daemon lives, what it serves and which fleet it is in are fixed for its life; programs follow the file.
    if (JSON.stringify(next.fleet) !== JSON.stringify(this.config.fleet)) {
      return failure(
        'ERR_CONFIG',
        'fleet: the fleet settings (database, host, leaseTtl, schema) are fixed while the daemon runs; restart the daemon to change them',
      );
    }
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
      case 'fleet': {
        const body = this.fleetStatus();
        if (body === undefined) return failure('ERR_NOT_FOUND', 'this daemon is not part of a fleet: its config has no fleet.database');
        try {
          return { ok: true, result: await body };
        } catch (err) {
          return failure('ERR_FAILED', `cannot read the fleet from its database: ${(err as Error).message}`);
        }
      }
      case 'reload':
        return this.#reload();
      case 'reopen':
        this.reopenLogs();
        return { ok: true };
      case 'shutdown':
        await this.shutdown();
        return { ok: true };
      default:
        return failure('ERR_BAD_REQUEST', `unknown request '${(req as { cmd: string }).cmd}'`);
    }
  }
}

/** The pid of a live daemon on this home, if any: one whose socket answers, or whose pid file names a process that started before the file was written. */
async function runningDaemon(p: ReturnType<typeof paths>): Promise<number | undefined> {
  try {
    const reply = await request(p.socket, { cmd: 'ping' });
    if (reply.ok) return (reply.result as { pid: number }).pid;
  } catch {
    // nothing answers: fall through to the pid file
  }
  const pid = livePid(p.pid);
  return pid === process.pid ? undefined : pid;
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

// The daemon's side of the fence (fence-process.ts): starts the watchdog when the first
// singleton needs it, tells it each tenure's deadline and its renewals, and starts it again
// (telling it everything it holds) if it dies while the daemon lives. Writes go straight into
// the pipe, so a deadline written before a program is spawned is in the kernel before the
// program exists: even a daemon frozen right after the spawn cannot leave it unguarded.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BosunError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { HoldMessage } from './fence-protocol.js';

/** What a singleton needs of a fence (tests give a recording one). */
export interface FenceLink {
  /** Resolves once the watchdog runs and reads its deadlines. */
  ready(): Promise<void>;
  /** Sets (or moves) the deadline of tenure `id`. */
  hold(id: string, hold: Omit<HoldMessage, 't' | 'id'>): void;
  /** Tenure `id` ended under the daemon's eye. */
  release(id: string): void;
}

/** The watchdog could not be started: singletons cannot run unguarded. */
export class FenceError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FENCE', message, options);
  }
}

const SCRIPT = fileURLToPath(new URL('./fence-process.js', import.meta.url));
/** The watchdog does almost nothing: V8's helper threads and a big young generation buy it nothing. */
const FLAGS = ['--v8-pool-size=0', '--max-semi-space-size=1', '--max-old-space-size=16'];
const READY_TIMEOUT_MS = 15_000;

export class Fence implements FenceLink {
  readonly #holds = new Map<string, Omit<HoldMessage, 't'>>();
  readonly #log: Logger | undefined;
  #child: ChildProcess | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(options: { logger?: Logger } = {}) {
    this.#log = options.logger;
  }

  /** The watchdog's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new FenceError('the fence is closed'));
    this.#ready ??= this.#start();
    return this.#ready;
  }

  hold(id: string, hold: Omit<HoldMessage, 't' | 'id'>): void {
    const h = { id, ...hold };
    this.#holds.set(id, h);
    this.#send({ t: 'hold', ...h });
  }

  release(id: string): void {
    if (!this.#holds.delete(id)) return;
    this.#send({ t: 'release', id });
  }

  /**
   * Closes the watchdog's stdin: with nothing held it exits at once; deadlines still held (a
   * daemon leaving programs running) it enforces first. Resolves once it exited, or after 2 s.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }

  #send(msg: HoldMessage | { t: 'release'; id: string }): void {
    const stdin = this.#child?.stdin;
    if (stdin === undefined || stdin === null || stdin.destroyed) return;
    stdin.write(`${JSON.stringify(msg)}\n`);
  }

  #start(): Promise<void> {
    // Its own session (detached): the daemon's signals, its terminal's and its group's do not reach it.
    const child = spawn(process.execPath, [...FLAGS, SCRIPT], { detached: true, stdio: ['pipe', 'pipe', 'inherit'], cwd: '/' });
    this.#child = child;
    child.stdin!.on('error', () => {}); // it died: the exit handler deals with it
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    // Whatever is held already (a restart after it died) goes first.
    for (const h of this.#holds.values()) this.#send({ t: 'hold', ...h });
    return new Promise<void>((resolve, reject) => {
      let up = false;
      let buf = '';
      const timer = setTimeout(() => {
        if (!up) reject(new FenceError(`the singleton watchdog did not start within ${READY_TIMEOUT_MS}ms`));
      }, READY_TIMEOUT_MS);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'ready' && !up) {
            up = true;
            clearTimeout(timer);
            resolve();
          } else if (line.startsWith('fenced ')) {
            this.#log?.warn({ tenure: line.split(' ')[1] }, 'the fence stopped a singleton whose lease was not renewed in time');
          } else if (line.startsWith('survivors ')) {
            this.#log?.error({ tenure: line.split(' ')[1], pids: line.split(' ')[2] }, 'processes of a fenced singleton survived SIGKILL');
          }
        }
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        if (!up) reject(new FenceError(`cannot start the singleton watchdog: ${err.message}`, { cause: err }));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.#child === child) {
          this.#child = undefined;
          this.#ready = undefined;
        }
        if (!up) reject(new FenceError(`the singleton watchdog exited before it was ready (code ${code}, signal ${signal})`));
        else if (!this.#closed) {
          this.#log?.error({ code, signal }, 'the singleton watchdog died; starting it again');
          if (this.#holds.size > 0)
            this.ready().catch((err: unknown) => this.#log?.error({ err }, 'cannot start the singleton watchdog again'));
        }
      });
    });
  }
}

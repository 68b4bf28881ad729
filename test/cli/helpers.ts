// Helpers for the daemon tests: run the compiled CLI, write configs into a fresh temp home,
// run a foreground daemon and collect its lifecycle lines, poll for conditions (never sleep blind).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const PROG = fileURLToPath(new URL('./fixtures/prog.js', import.meta.url));
export const TEST_OUTPUT = fileURLToPath(new URL('../../../test-output/', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bosun ...args` to completion (bounded by timeoutMs). */
export function cli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bosun ${args.join(' ')} took longer than ${opts.timeoutMs ?? 30_000}ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh temp dir holding `bosun.config.yaml` with `yaml`; the home is `<dir>/.bosun`. */
export function tempProject(yaml: string): { dir: string; home: string; config: string; write(yaml: string): void; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-cli-'));
  const config = join(dir, 'bosun.config.yaml');
  writeFileSync(config, yaml);
  return {
    dir,
    home: join(dir, '.bosun'),
    config,
    write: (y: string) => writeFileSync(config, y),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A config line for the fixture program: `command: [node, prog.js, ...args]`. */
export function prog(...args: (string | number)[]): string {
  return `[${[process.execPath, PROG, ...args.map(String)].map((a) => JSON.stringify(a)).join(', ')}]`;
}

/**
 * A `restarting in=Nms` line pattern for `program[instance]`, and a check that N is `baseMs`
 * moved by core's backoff jitter (±10%), so instances that crash together do not restart in step.
 */
export function restarting(program: string, instance = 0): RegExp {
  return new RegExp(` ${program}\\[${instance}\\] restarting in=(\\d+)ms$`);
}
export function jitteredAround(line: string, baseMs: number): boolean {
  const ms = Number(/ restarting in=(\d+)ms$/.exec(line)?.[1]);
  return ms >= Math.floor(baseMs * 0.9) && ms <= Math.ceil(baseMs * 1.1);
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Status {
  programs: {
    name: string;
    instance: number;
    pid: number | null;
    state: string;
    restarts: number;
    uptimeMs: number;
    memoryBytes: number;
    cpuPercent: number;
    lastExit?: { code: number | null; signal: string | null; at: string };
    reason?: string;
    detail?: string;
    waitingFor?: string[];
    logError?: string;
  }[];
}

/** A foreground `bosun run` in `dir`, its stdout lines collected. */
export class Daemon {
  readonly lines: string[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;

  constructor(
    readonly dir: string,
    readonly home: string,
    args: string[] = [],
  ) {
    this.#child = spawn(process.execPath, [CLI, 'run', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.#child.stdout!.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.#child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.#child.on('exit', (code) => resolve((this.exitCode = code))));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Closes the read end of the daemon's stdout, as `bosun run | head -1` does once head exits. */
  closeStdout(): void {
    this.#child.stdout!.destroy();
  }

  /** Waits until a line matches; returns its index. */
  line(pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<number> {
    return waitFor(
      `a line matching ${pattern} (got:\n${this.lines.join('\n')}\n${this.stderr})`,
      () => {
        const i = this.lines.findIndex((l, n) => n >= from && pattern.test(l));
        return i < 0 ? undefined : i;
      },
      timeoutMs,
    );
  }

  async status(): Promise<Status> {
    const r = await cli(['status', '--json', '--home', this.home]);
    if (r.code !== 0) throw new Error(`status failed: ${r.code} ${r.stderr}`);
    return JSON.parse(r.stdout) as Status;
  }

  async until(what: string, pred: (s: Status) => boolean, timeoutMs = 15_000): Promise<Status> {
    return waitFor(
      what,
      async () => {
        const s = await this.status();
        return pred(s) ? s : undefined;
      },
      timeoutMs,
    );
  }

  /** Shuts the daemon down (or kills it if that fails); safe to call twice. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    await cli(['shutdown', '--home', this.home], { timeoutMs: 20_000 }).catch(() => undefined);
    if (this.exitCode === undefined) {
      const t = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

/** Starts a daemon and waits until its socket answers. */
export async function startDaemon(dir: string, home: string, args: string[] = []): Promise<Daemon> {
  const d = new Daemon(dir, home, args);
  await waitFor(`the daemon in ${dir} to answer (${d.stderr})`, async () => {
    if (d.exitCode !== undefined) throw new Error(`daemon exited ${d.exitCode}: ${d.stderr}\n${d.lines.join('\n')}`);
    const r = await cli(['status', '--json', '--home', home]);
    return r.code === 0;
  });
  return d;
}

/** Runs `body` against a daemon on a fresh project; always shuts it down and removes the project. */
export async function withDaemon(yaml: string, body: (d: Daemon, p: ReturnType<typeof tempProject>) => Promise<void>): Promise<void> {
  const p = tempProject(yaml);
  let d: Daemon | undefined;
  try {
    d = await startDaemon(p.dir, p.home);
    await body(d, p);
  } finally {
    await d?.stop();
    p.cleanup();
  }
}

/** Pids of every live (non-zombie) process whose environment or argv names `marker`. */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (/\) [ZX] /.test(stat)) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'latin1');
      const env = readFileSync(`/proc/${name}/environ`, 'latin1');
      if (cmd.includes(marker) || env.includes(marker)) out.push(Number(name));
    } catch {
      // gone or not ours
    }
  }
  return out;
}

// A PostgreSQL cluster of a test's own, for tests that stop, restart or kill the database:
// initdb in the test's temp folder, run as user postgres on a free port of 127.0.0.1, removed
// after. The shared server is never touched. Needs root (to run as postgres) and the
// PostgreSQL 15 binaries; `skipReason()` says why a test cannot run.

import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support.js';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to run a PostgreSQL cluster as user postgres';
  if (!existsSync(join(BIN, 'pg_ctl'))) return `needs the PostgreSQL 15 binaries in ${BIN}`;
  return false;
}

export class Cluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly settings: Record<string, string>,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** `settings` are server settings (`-c name=value`) over the defaults below. */
  static async create(settings: Record<string, string> = {}): Promise<Cluster> {
    const dir = await mkdtemp(join(tmpdir(), 'bosun-pg-'));
    await chmod(dir, 0o755);
    const ids = await run('id', ['-u', 'postgres']);
    const gid = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(ids.stdout), Number(gid.stdout));
    const c = new Cluster(dir, await freePort(), settings);
    await c.#pg('initdb', ['-D', c.#data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await c.start();
    return c;
  }

  get #data(): string {
    return join(this.dir, 'data');
  }

  async #pg(tool: string, args: string[]): Promise<void> {
    await run('runuser', ['-u', 'postgres', '--', join(BIN, tool), ...args], { timeout: 120_000 });
  }

  get #options(): string {
    const settings = { fsync: 'off', autovacuum: 'off', shared_buffers: '16MB', ...this.settings };
    const each = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`);
    return [`-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, ...each].join(' ');
  }

  async start(): Promise<void> {
    await this.#pg('pg_ctl', ['start', '-w', '-t', '60', '-D', this.#data, '-l', join(this.dir, 'log'), '-o', this.#options]);
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.#pg('pg_ctl', ['stop', '-w', '-t', '60', '-D', this.#data, '-m', mode]);
  }

  /** `pg_ctl restart -m fast`, the routine restart. */
  async restart(): Promise<void> {
    await this.#pg('pg_ctl', [
      'restart',
      '-w',
      '-t',
      '60',
      '-D',
      this.#data,
      '-m',
      'fast',
      '-l',
      join(this.dir, 'log'),
      '-o',
      this.#options,
    ]);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

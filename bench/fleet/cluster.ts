// A PostgreSQL cluster of the benchmark's own (initdb in a temp folder, run as user postgres
// on a free port of 127.0.0.1, removed after), with pg_stat_statements loaded, so the fleet's
// queries are counted exactly and no one else's are. Needs root and the PostgreSQL 15 binaries.

import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../test/support.js';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export class Cluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  url(db = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  static async create(): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-pg-'));
    chmodSync(dir, 0o755);
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout);
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout);
    chownSync(dir, uid, gid);
    const c = new Cluster(dir, await freePort());
    const data = join(dir, 'data');
    await c.#pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    const opts = `-p ${c.port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c autovacuum=off -c shared_buffers=16MB -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all`;
    await c.#pg('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'log'), '-o', opts]);
    await c.sql('CREATE DATABASE fleet');
    await c.sql('CREATE EXTENSION pg_stat_statements');
    return c;
  }

  async #pg(tool: string, args: string[]): Promise<void> {
    await run('runuser', ['-u', 'postgres', '--', join(BIN, tool), ...args], { timeout: 120_000 });
  }

  async sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  async destroy(): Promise<void> {
    await this.#pg('pg_ctl', ['stop', '-w', '-t', '60', '-D', join(this.dir, 'data'), '-m', 'immediate']).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

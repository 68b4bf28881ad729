// postgresStore({ connectionString, schema }): the queue in a PostgreSQL database shared by
// any number of processes and machines. A pool (grown to the consumers' concurrency) runs
// claims and acknowledgements; one dedicated client LISTENs so idle consumers wake as soon
// as a job is added. If that client drops (a restart, an outage of any length), consumers
// fall back to polling while it reconnects, with backoff, for as long as it takes.

import type pg from 'pg';
import type { Clock, TimerHandle } from '../core/index.js';
import { storeRetryMs } from './backoff.js';
import { loadDriver } from './driver.js';
import { SqlStore, type Db, type Row } from './sql-store.js';
import type { Store } from './types.js';

export interface PostgresStoreOptions {
  connectionString: string;
  /** Schema holding the queue's tables, created if missing. Default 'bosun'. */
  schema?: string;
  /** Connections in the pool before consumers grow it to their concurrency. Default 4. */
  poolSize?: number;
}

async function connect(options: PostgresStoreOptions, clock: Clock): Promise<Db> {
  const driver = (await loadDriver('postgresStore', 'pg', () => import('pg'))).default;
  const pool = new driver.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 4,
    application_name: 'bosun-queue',
  });
  // An idle client's error (server restart) must not crash the process; the next query retries.
  pool.on('error', () => {});
  let reserved = 0;
  const listeners = new Set<() => Promise<void>>();
  return {
    async query(text, params) {
      return (await pool.query<Row>(text, params as unknown[])).rows;
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async (text, params) => (await client.query<Row>(text, params as unknown[])).rows,
          exec: async (text) => {
            await client.query(text);
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(channel, fn, onError) {
      let closed = false;
      let client: pg.Client | undefined;
      let timer: TimerHandle | undefined;
      let failures = 0;
      const start = async (): Promise<void> => {
        const c = new driver.Client({ connectionString: options.connectionString, application_name: 'bosun-queue-listen' });
        c.on('notification', (msg) => fn(msg.payload ?? ''));
        let dropped = false;
        const drop = (err: Error) => {
          if (dropped) return;
          dropped = true;
          if (client === c) client = undefined;
          c.end().catch(() => {});
          if (closed) return;
          onError(err);
          const wait = storeRetryMs(++failures); // as long as it takes
          timer = clock.setTimeout(() => void start().catch(drop), wait);
        };
        c.on('error', drop);
        c.on('end', () => drop(new Error('LISTEN connection ended')));
        await c.connect();
        await c.query(`LISTEN "${channel}"`);
        if (closed) {
          dropped = true;
          await c.end();
          return;
        }
        client = c;
        failures = 0;
        fn(''); // anything added while we were not listening is found by the wake-up
        return;
      };
      // The first connection must work (open() just connected); later ones retry forever.
      try {
        await start();
      } catch (err) {
        closed = true;
        timer?.clear();
        throw err;
      }
      const stop = async () => {
        closed = true;
        listeners.delete(stop);
        timer?.clear();
        const c = client;
        client = undefined;
        await c?.end().catch(() => {});
      };
      listeners.add(stop);
      return stop;
    },
    reserve(n) {
      // Each running handler acknowledges on its own connection; keep one spare for claims.
      reserved += n;
      pool.options.max = Math.max(pool.options.max ?? 4, reserved + 1);
    },
    async close() {
      await Promise.all([...listeners].map((stop) => stop()));
      await pool.end();
    },
  };
}

/** A store in PostgreSQL, shared by every process that opens the same database and schema. Needs the optional package pg. */
export function postgresStore(options: PostgresStoreOptions): Store {
  if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
    throw new TypeError('postgresStore needs a connectionString');
  }
  return new SqlStore('postgres', options.schema ?? 'bosun', (clock) => connect(options, clock));
}

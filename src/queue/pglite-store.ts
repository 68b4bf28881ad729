// pgliteStore(dir): the queue embedded in this process on PGlite (PostgreSQL compiled to
// WebAssembly), stored in `dir` (default ./.bosun/queue). Same SQL and migrations as the
// PostgreSQL store. One process owns the directory at a time (see dir-lock.ts): two writers
// would hand out the same ids and lose each other's commits, so a second opener gets
// StoreLockedError at once. Use postgresStore to share work between processes or machines.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { lockDir } from './dir-lock.js';
import { loadDriver } from './driver.js';
import { SqlStore, type Db, type Row } from './sql-store.js';
import type { Store } from './types.js';

/** pgliteStore()'s directory when none is given, relative to the working directory. */
export const DEFAULT_PGLITE_DIR = './.bosun/queue';

async function connect(dir: string): Promise<Db> {
  const { PGlite } = await loadDriver('pgliteStore', '@electric-sql/pglite', () => import('@electric-sql/pglite'));
  mkdirSync(dir, { recursive: true });
  const unlock = lockDir(resolve(dir));
  let pg: InstanceType<typeof PGlite>;
  try {
    pg = await PGlite.create(dir);
  } catch (err) {
    unlock();
    throw err;
  }
  return {
    async query(text, params) {
      return (await pg.query<Row>(text, params)).rows;
    },
    transaction(fn) {
      return pg.transaction((tx) =>
        fn({
          query: async (text, params) => (await tx.query<Row>(text, params)).rows,
          exec: async (text) => {
            await tx.exec(text);
          },
        }),
      );
    },
    async listen(channel, fn) {
      // In-process: the connection cannot drop, so there is nothing to re-establish.
      const unlisten = await pg.listen(channel, fn);
      return () => unlisten();
    },
    reserve() {
      // One in-process connection: statements queue inside PGlite.
    },
    async close() {
      try {
        await pg.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * The embedded store: PGlite in `dir` (created if missing), default `./.bosun/queue` relative to the
 * working directory (DEFAULT_PGLITE_DIR), owned by this process while open. Needs the optional
 * package @electric-sql/pglite.
 */
export function pgliteStore(dir: string = DEFAULT_PGLITE_DIR): Store {
  return new SqlStore('pglite', 'bosun', () => connect(dir));
}

// pgliteStore(dir): the queue embedded in this process on PGlite (PostgreSQL compiled to
// WebAssembly), stored in `dir` (default ./.bosun/queue). Same SQL and migrations as the
// PostgreSQL store; one process owns the directory at a time. Use postgresStore to share
// work between processes or machines.

import { mkdir } from 'node:fs/promises';
import { loadDriver } from './driver.js';
import { SqlStore, type Db, type Row } from './sql-store.js';
import type { Store } from './types.js';

/** pgliteStore()'s directory when none is given, relative to the working directory. */
export const DEFAULT_PGLITE_DIR = './.bosun/queue';

async function connect(dir: string): Promise<Db> {
  const { PGlite } = await loadDriver('pgliteStore', '@electric-sql/pglite', () => import('@electric-sql/pglite'));
  await mkdir(dir, { recursive: true });
  const pg = await PGlite.create(dir);
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
      const unlisten = await pg.listen(channel, fn);
      return () => unlisten();
    },
    reserve() {
      // One in-process connection: statements queue inside PGlite.
    },
    close: () => pg.close(),
  };
}

/**
 * The embedded store: PGlite in `dir` (created if missing), default `./.bosun/queue` relative to the
 * working directory (DEFAULT_PGLITE_DIR). Needs the optional package @electric-sql/pglite.
 */
export function pgliteStore(dir: string = DEFAULT_PGLITE_DIR): Store {
  return new SqlStore('pglite', 'bosun', () => connect(dir));
}

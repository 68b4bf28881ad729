// The behavioural suite on embedded PGlite in a temp dir.
import { pgliteStore } from '../../src/queue/index.js';
import { queueSuite } from './suite.js';
import { tempDir } from './helpers.js';

queueSuite(
  'pgliteStore',
  async () => {
    const { dir, remove } = await tempDir('pglite');
    return { store: pgliteStore(dir), cleanup: remove };
  },
  { manyJobs: 2000 },
);

// The behavioural suite on the real PostgreSQL (DATABASE_URL), in a schema of its own that
// is dropped after. A missing server fails these tests.
import { postgresStore } from '../../src/queue/index.js';
import { queueSuite } from './suite.js';
import { DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js';

queueSuite(
  'postgresStore',
  async () => {
    const schema = uniqueSchema('suite');
    return { store: postgresStore({ connectionString: DATABASE_URL, schema }), cleanup: () => dropSchema(schema) };
  },
  { manyJobs: 4000 },
);

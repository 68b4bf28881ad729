// The behavioural suite on memoryStore (real time, short), plus what only a TestClock shows.
import { memoryStore } from '../../src/queue/index.js';
import { queueSuite } from './suite.js';

queueSuite('memoryStore', async () => ({ store: memoryStore(), cleanup: async () => {} }), { manyJobs: 10_000 });

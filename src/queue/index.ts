// bosun/queue: a durable job queue whose consumers are Workers. Jobs live in PostgreSQL
// (postgresStore, shared by many processes and machines), in embedded PGlite (pgliteStore,
// the default for one process) or in memory (memoryStore, for tests). Delivery is at least
// once: a claimed job is leased, the lease is renewed while its handler runs, and a job whose
// consumer died is redelivered when the lease runs out. So handlers should be idempotent.
//
//   const q = await JobQueue.open({ store: pgliteStore() });
//   await q.add('email', { to: 'a@b.c' }, { key: 'welcome:a@b.c' });
//   const w = q.worker('email', async (job, signal) => send(job.payload, signal), { concurrency: 4 });
//   // run `w` under a Supervisor, or: await stopWorker(w); await q.close();
//
//   await q.add('sync', { tenant: 42 }, { queue: 'tenant-42' });   // one at a time, in order
//   await q.schedule('nightly', { cron: '0 3 * * *', kind: 'report' }); // run q.scheduler() somewhere
//
// What it prevents: a job that silently runs twice while its first run is still alive (leases
// are renewed while the handler has not settled, and acknowledgements check the claim), a
// crashed consumer's job being lost, a poison job retrying forever (maxAttempts, then `failed`
// and kept for `retry`), and a database restart taking consumers down (they retry and wait).
export { JobQueue, type JobQueueOptions, type AddManyItem } from './job-queue.js';
export { memoryStore } from './memory-store.js';
export { pgliteStore, DEFAULT_PGLITE_DIR } from './pglite-store.js';
export { postgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { InvalidPayloadError, LeaseLostError, QueueClosedError, MigrationError, StoreLockedError, StoreError } from './errors.js';
export { TimeoutError } from '../core/index.js';
export type { ScheduleOptions, SchedulerOptions } from './scheduler.js';
export { DriverMissingError } from './driver.js';
export type { Handler } from './consumer.js';
export type { LeaseStart } from './lease.js';
export type { Job, JobState, AddOptions, WorkerOptions, BackoffOptions, LeaseOptions, JobEvent, Counts, Store } from './types.js';

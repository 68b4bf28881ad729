// Errors of the queue, each with a stable `code` (see core/errors.ts for the base class).

import { BosunError } from '../core/index.js';

/** `add` was given a payload that would not survive JSON unchanged; `path` names the culprit. */
export class InvalidPayloadError extends BosunError {
  readonly path: string;
  constructor(path: string, what: string) {
    super('ERR_QUEUE_INVALID_PAYLOAD', `job payload is not JSON-serialisable: ${path} ${what}`);
    this.path = path;
  }
}

/** A running job's lease was taken over (it expired and someone else claimed the job). */
export class LeaseLostError extends BosunError {
  constructor(message: string) {
    super('ERR_QUEUE_LEASE_LOST', message);
  }
}

/** The queue was closed; it accepts no more calls. */
export class QueueClosedError extends BosunError {
  constructor() {
    super('ERR_QUEUE_CLOSED', 'job queue is closed');
  }
}

/** The database schema is newer than this version of bosun knows. */
export class MigrationError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_QUEUE_MIGRATION', message, options);
  }
}

/** A pgliteStore directory is open in another process (or already in this one). */
export class StoreLockedError extends BosunError {
  readonly dir: string;
  /** The holder's process id. */
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(
      'ERR_QUEUE_STORE_LOCKED',
      `PGlite directory ${dir} is in use by process ${pid}${pid === process.pid ? ' (this process)' : ''}: ` +
        'one process opens it at a time; close that queue first, or use postgresStore to share a queue between processes',
    );
    this.dir = dir;
    this.pid = pid;
  }
}

/**
 * The database refused or failed a statement. `sqlState` is PostgreSQL's error code when it
 * gave one; `transient` says whether retrying later may succeed (a restart, a lost connection)
 * or not (bad schema, authentication, a missing database).
 */
export class StoreError extends BosunError {
  readonly store: string;
  readonly sqlState: string | undefined;
  readonly transient: boolean;
  constructor(store: string, cause: unknown) {
    const sqlState = sqlStateOf(cause);
    const message = cause instanceof Error ? cause.message : String(cause);
    super('ERR_QUEUE_STORE', `${store} store: ${message}${sqlState ? ` (SQLSTATE ${sqlState})` : ''}`, { cause });
    this.store = store;
    this.sqlState = sqlState;
    this.transient = isTransientCause(cause, sqlState);
  }
}

function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

// SQLSTATE classes that no retry fixes: 28 (authentication), 3D (no such database), 42 (no
// such table or schema, syntax), 0A (unsupported), 22 (data), 23 (constraint), 2B/2F/38/39
// (dependent objects, routines), 3F (no such schema), 44, F0, P0 (raised by a function).
const PERMANENT_CLASSES = new Set(['28', '3D', '42', '0A', '22', '23', '2B', '2F', '38', '39', '3F', '44', 'F0', 'P0']);

function isTransientCause(cause: unknown, sqlState: string | undefined): boolean {
  if (sqlState !== undefined) return !PERMANENT_CLASSES.has(sqlState.slice(0, 2));
  // No SQLSTATE: a socket error (ECONNREFUSED, ECONNRESET...) or the driver's own "connection
  // terminated": the database is away, which heals. Our own errors say for themselves.
  if (cause instanceof MigrationError || cause instanceof QueueClosedError) return false;
  return true;
}

/** Whether `err`, thrown by a store, may succeed if tried again later. */
export function isTransientStoreError(err: unknown): boolean {
  if (err instanceof StoreError) return err.transient;
  if (err instanceof MigrationError || err instanceof QueueClosedError || err instanceof StoreLockedError) return false;
  return false;
}

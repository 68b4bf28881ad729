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

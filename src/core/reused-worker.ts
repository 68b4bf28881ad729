// A Worker runs once: from the moment it is made until it stops. A child whose `start` hands
// back the Worker of its previous run (one built outside `start`, a Service made once at the
// top of a program) would be "restarted" as a worker that has already stopped, over and over
// until the restart intensity ran out, with a message that hides why. The supervisor refuses
// that start instead, and stops with this error: it is a bug in the spec, not a crash to retry.

import { BosunError } from './errors.js';
import type { Worker } from './worker.js';

/** A child's `start` returned the Worker of its previous run; build the Worker inside `start`. */
export class ReusedWorkerError extends BosunError {
  constructor(id: string) {
    super(
      'ERR_REUSED_WORKER',
      `child ${id}: start returned the Worker of its previous run, which has already stopped; a Worker runs once, ` +
        'so build it inside start (start: () => new Service({ ... }), not start: () => service)',
    );
  }
}

/** The error to refuse `worker` with, when it is the Worker `previous` run of child `id` had. */
export function reusedWorker(id: string, worker: Worker | undefined, previous: Worker | undefined): ReusedWorkerError | undefined {
  return worker !== undefined && worker === previous ? new ReusedWorkerError(id) : undefined;
}

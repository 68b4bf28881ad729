// Restartable tasks: each run loop is a transient child of a one_for_one Supervisor, so a
// loop that throws starts again after a backoff, a loop that returns stays ended, and more
// restarts than the policy's intensity fail the service with RestartIntensityError.

import { Supervisor } from '../core/supervisor.js';
import { startWorker, type Worker } from '../core/worker.js';
import type { TaskRecord } from './record.js';
import type { RestartPolicy } from './task.js';

/** `workers` loops of the record's task, each a transient child; restarts are counted in the record. */
export function superviseLoops(record: TaskRecord, workers: number, policy: RestartPolicy): Worker {
  const task = record.task;
  const sup = new Supervisor({
    name: `task ${task.name}`,
    strategy: 'one_for_one',
    intensity: policy.intensity ?? 5,
    periodMs: policy.periodMs ?? 60_000,
    ...(policy.backoff === undefined ? {} : { backoff: policy.backoff }),
    clock: task.clock,
    logger: task.logger,
    children: Array.from({ length: workers }, (_, i) => ({
      id: workers === 1 ? task.name : `${task.name}#${i}`,
      // A Worker, not the loop's promise: a promise holds back the next sibling until it
      // settles (start_link), and the loops run side by side.
      start: () => startWorker((signal) => task.run(signal)),
      restart: 'transient' as const,
      // The service waits for its loops like it does for any task's; runMain bounds the wait.
      shutdownMs: 'infinity' as const,
    })),
  });
  sup.on('childRestarting', (e) => {
    record.restarts++;
    if (e.error !== undefined) record.error = e.error;
    if (record.state === 'running') record.state = 'restarting';
    task.logger.warn({ task: task.name, err: e.error, inMs: e.delayMs }, `task ${task.name} loop failed; restarting in ${e.delayMs} ms`);
  });
  sup.on('childStarted', (e) => {
    if (e.restarts > 0 && record.state === 'restarting') record.state = 'running';
  });
  return sup;
}

// Restartable tasks: each run loop is a child of a Supervisor (one_for_one, transient), so a
// loop that throws is started again after a backoff, and too many restarts fail the service.

import { Catacomb } from '../core/catacomb.js';
import { RestartIntensityError, isAbortLike, toError } from '../core/errors.js';
import { startWorker, type Worker } from '../core/worker.js';
import type { RestartPolicy, Task } from './task.js';

export function superviseLoops(task: Task, workers: number, policy: RestartPolicy, run: (signal: AbortSignal) => Promise<void>): Worker {
  const intensity = policy.intensity ?? 5;
  const periodMs = policy.periodMs ?? 60_000;
  const initialMs = policy.backoff?.initialMs ?? 1000;
  const factor = policy.backoff?.factor ?? 2;
  const maxMs = policy.backoff?.maxMs ?? 30_000;
  const restarts: number[] = [];
  const loop = (signal: AbortSignal) => async () => {
    let delay = initialMs;
    for (;;) {
      try {
        await run(signal);
        return;
      } catch (err) {
        if (signal.aborted && isAbortLike(err, signal)) return;
        const now = task.clock.now();
        restarts.push(now);
        while (restarts.length > 0 && restarts[0]! <= now - periodMs) restarts.shift();
        task.lastError = toError(err);
        if (restarts.length > intensity) {
          throw new RestartIntensityError(`task ${task.name} restarted more than ${intensity} times in ${periodMs} ms`, { cause: err });
        }
        task.counters.restarts = (task.counters.restarts ?? 0) + 1;
        task.state = 'restarting';
        task.logger.warn({ task: task.name, err: toError(err), inMs: delay }, 'task loop failed; restarting');
        await task.clock.sleep(delay, signal);
        delay = Math.min(maxMs, delay * factor);
        task.state = 'running';
      }
    }
  };
  return Catacomb.invoke({
    work: async (c) => {
      const loops: Worker[] = [];
      for (let i = 0; i < workers; i++) loops.push(startWorker((signal) => loop(signal)()));
      for (const w of loops) c.add(w);
      await Promise.allSettled(loops.map((w) => w.wait()));
    },
  });
}

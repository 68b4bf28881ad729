// The Service's record of one task, as a Supervisor keeps a ChildRecord per child: the task's
// state, the error that failed it, the controller of its stop signal and its running loops.
// Only the Service writes it; the task sees it through the read-only context made here.

import type { Clock } from '../core/clock.js';
import { Catacomb } from '../core/catacomb.js';
import type { Logger } from '../core/logger.js';
import { startWorker, type Worker } from '../core/worker.js';
import type { OptionValue } from './options.js';
import { superviseLoops } from './restart.js';
import type { Service } from './service.js';
import type { Task, TaskClass, TaskContext, TaskState } from './task.js';

export interface TaskRecord {
  readonly cls: TaskClass;
  /** Set right after the task is constructed (its context reads this record). */
  task: Task;
  state: TaskState;
  /** The error that failed the task, or the last one that restarted its loops. */
  error: Error | undefined;
  /** Restarts of a restartable task's loops; shown as its `restarts` counter. */
  restarts: number;
  /** Aborted when the service asks the task to stop. */
  readonly stop: AbortController;
  /** The running loops, started after start(); killed before stop(). */
  loops: Worker | undefined;
  skipped: boolean;
}

export interface TaskSetting {
  service: Service;
  prefix: string;
  options: Readonly<Record<string, OptionValue | undefined>>;
  clock: Clock;
  logger: Logger;
}

/** Builds `cls` with a read-only context over a fresh record; returns the record. */
export function createTask(cls: TaskClass, setting: TaskSetting): TaskRecord {
  const record = {
    cls,
    task: undefined as unknown as Task,
    state: 'created' as TaskState,
    error: undefined as Error | undefined,
    restarts: 0,
    stop: new AbortController(),
    loops: undefined as Worker | undefined,
    skipped: false,
  };
  const ctx: TaskContext = Object.freeze({
    service: setting.service,
    name: cls.name,
    prefix: setting.prefix,
    options: setting.options,
    clock: setting.clock,
    logger: setting.logger,
    signal: record.stop.signal,
    state: () => record.state,
    error: () => record.error,
  });
  record.task = new (cls as unknown as new (ctx: TaskContext) => Task)(ctx);
  return record;
}

/**
 * Starts the task's loops: `static workers` of `run(signal)` (or as many as its `workers`
 * option says), none for a loopless task. A restartable task's loops run under a Supervisor.
 */
export function startLoops(record: TaskRecord): Worker | undefined {
  const { cls, task } = record;
  if (cls.loopless) return undefined;
  const option = task.options.workers;
  const loops = Math.max(1, typeof option === 'number' ? option : (cls.workers ?? 1));
  if (cls.restartable) return superviseLoops(record, loops, cls.restart ?? {});
  return Catacomb.invoke({
    work: async (c) => {
      const workers: Worker[] = [];
      for (let i = 0; i < loops; i++) workers.push(startWorker((signal) => task.run(signal)));
      for (const w of workers) c.add(w);
      await Promise.allSettled(workers.map((w) => w.wait()));
    },
  });
}

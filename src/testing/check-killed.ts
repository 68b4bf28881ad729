// checkKilled: juju's workertest.CheckKilled for node:test. A test that stops a worker should
// fail, naming what was still running, when the worker does not stop, rather than hang until
// the runner cancels the whole file. The bound is real time on purpose: it guards the test, it
// is not behaviour under test, so it must fire even when the worker waits on a TestClock.

import { TimeoutError, toError } from '../core/errors.js';
import { reportOf } from '../core/reporter.js';
import type { Worker } from '../core/worker.js';

/** checkKilled's error when the worker is still running after `ms`; `report` is its report(), if it has one. */
export class StillRunningError extends TimeoutError {
  readonly report: object | undefined;
  constructor(ms: number, report: object | undefined) {
    const what = report === undefined ? '' : `; its report: ${JSON.stringify(report)}`;
    super(`worker did not stop within ${ms} ms of kill()${what}`);
    this.report = report;
  }
}

/**
 * Kills `worker` and waits at most `ms` (default 5000, real time) for it to stop. Resolves with
 * the error it stopped with, or `undefined` when it stopped cleanly; rejects with
 * StillRunningError (naming the worker's report() when it is a Reporter) if it is still running.
 */
export function checkKilled(worker: Worker, ms = 5000): Promise<Error | undefined> {
  worker.kill();
  return new Promise<Error | undefined>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StillRunningError(ms, reportOf(worker))), ms);
    worker.wait().then(
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve(toError(err));
      },
    );
  });
}

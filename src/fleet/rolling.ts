// A rolling restart: the instances of a program are replaced one at a time, each by a process
// started beside it. Only once the replacement is ready (its `ready` check, within
// `readyTimeout`) is the old process stopped, so with a shared `listen` socket some instance
// accepts at every moment and no connection is refused. A replacement that does not become
// ready is stopped, the old process keeps running, the roll stops there and says why.
//
// The replacement is handed to the program's Supervisor through its ordinary restartChild:
// the restart stops the old run and the child's start takes the ready replacement instead of
// spawning, so each instance stays one Worker child of its Supervisor and a restart by
// command does not count (core's semantics); see Fleet's handOver.

import { BosunError } from '../core/errors.js';
import type { ProgramInstance } from './instance.js';

/** A replacement did not become ready: the roll stopped there, the old instance still runs. */
export class RollingRestartError extends BosunError {
  readonly program: string;
  readonly instance: number;
  constructor(program: string, instance: number, message: string, options?: { cause?: unknown }) {
    super('ERR_ROLLING_RESTART', message, options);
    this.program = program;
    this.instance = instance;
  }
}

/** What a roll needs of the fleet, for one program. */
export interface RollHost {
  readonly program: string;
  /** True while instance `index` has a live process to replace. */
  running(index: number): boolean;
  /** The pid of instance `index`'s current process. */
  pid(index: number): number | null;
  /** Starts a replacement process for instance `index` beside the current one. */
  spawnReplacement(index: number): Promise<ProgramInstance>;
  /** Stops the old process of `index` and makes the ready `replacement` the instance's run. */
  handOver(index: number, replacement: ProgramInstance): Promise<void>;
  /** An ordinary restart, for an instance with no process to replace (stopped, failed, in backoff). */
  restart(index: number): Promise<void>;
  /** The replacement of `index` failed: record why (status) before the roll rejects. */
  failed(index: number, replacement: ProgramInstance, err: Error, message: string): void;
}

/**
 * Replaces the instances `indexes` in order; settles once every one runs its new process.
 * Rejects with RollingRestartError at the first replacement that is not ready (it has been
 * stopped; that instance and the ones after it keep their old processes).
 */
export async function rollingRestart(host: RollHost, indexes: readonly number[]): Promise<void> {
  for (const index of indexes) {
    if (!host.running(index)) {
      await host.restart(index);
      continue;
    }
    const old = host.pid(index);
    const replacement = await host.spawnReplacement(index);
    const err = await readiness(replacement);
    if (err !== undefined) {
      replacement.kill();
      await replacement.wait().catch(() => {});
      const rest = indexes.slice(indexes.indexOf(index) + 1);
      const message =
        `${host.program}: rolling restart stopped at instance ${index}: its replacement` +
        `${replacement.pid === null ? '' : ` (pid ${replacement.pid})`} did not become ready (${err.message}); ` +
        `instance ${index} keeps its old process${old === null ? '' : ` (pid ${old})`}` +
        (rest.length === 0
          ? ''
          : `, and ${rest.length === 1 ? `instance ${rest[0]} was` : `instances ${rest.join(', ')} were`} not restarted`);
      host.failed(index, replacement, err, message);
      throw new RollingRestartError(host.program, index, message, { cause: err });
    }
    await host.handOver(index, replacement);
  }
}

/** Undefined once `w` is ready; the error that kept it from being ready otherwise. */
async function readiness(w: ProgramInstance): Promise<Error | undefined> {
  try {
    await w.ready();
  } catch (err) {
    // The run's own error (ReadyTimeoutError, ProcessExitError...) says more than "not ready".
    const ended = await w.wait().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    return ended ?? (err as Error);
  }
  return undefined;
}

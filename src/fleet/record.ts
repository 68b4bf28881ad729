// The fleet's record of one program instance: what `status` shows about it across its runs
// (restarts, last exit, why it stopped, samples), kept by the Fleet alone — as a Supervisor
// keeps a ChildRecord per child — and never written from outside.

import type { ProgramInstance } from './instance.js';
import { InstanceJournal } from './journal.js';
import type { Sampled } from './sampler.js';
import type { InstanceEntry } from './state.js';
import type { LastExit, ProgramStatus, Reason, State } from './status.js';

/** What a live view shows of one instance beyond its status row (read-only views of the fleet's own records). */
export interface InstanceDetails {
  /** Output with lifecycle markers across runs, and recent lifecycle events. */
  readonly journal: InstanceJournal;
  /** Resource samples, oldest first: epoch ms, CPU %, RSS bytes of the tree. */
  readonly samples: { readonly at: readonly number[]; readonly cpu: readonly number[]; readonly memory: readonly number[] };
}

export class InstanceRecord implements Sampled {
  state: State = 'stopped';
  restarts = 0;
  /** The current (or last) run. */
  worker: ProgramInstance | undefined;
  pid: number | null = null;
  startedAt = 0;
  lastExit: LastExit | undefined;
  reason: Reason | undefined;
  detail: string | undefined;
  /** A ready process the next start of this instance takes instead of spawning (a rolling restart's replacement). */
  replacement: ProgramInstance | undefined;
  /** Set by a command (stop/restart/watch/cron) before it stops the run: the reason that stop gets. */
  stopReason: Reason | undefined;
  /** Stopped by a command: a group restart leaves it alone, `after` does not wait for it. */
  held = false;
  /** The instance start ran in the current program run (it spawned, or waits for `after`). */
  attempted = false;
  memoryBytes = 0;
  cpuPercent = 0;
  readonly sampledAt: number[] = [];
  readonly cpuHistory: number[] = [];
  readonly memoryHistory: number[] = [];
  /** A process an earlier daemon left for this instance, to be adopted by its first run. */
  adoption: InstanceEntry | undefined;
  /** Which pair of named pipes the current run writes to. */
  slot: 'a' | 'b' = 'a';

  constructor(
    readonly program: string,
    readonly index: number,
    /** Changed by a rolling reload, which keeps the record. */
    public memoryLimitBytes: number | undefined,
    readonly overLimit: (rssBytes: number) => void,
    /** Output and lifecycle events across runs; a program changed by reload keeps its instances'. */
    readonly journal = new InstanceJournal(),
  ) {}

  /** Ready for those that wait on it in `after`: ready, or running without a readiness check. */
  get isReady(): boolean {
    return this.state === 'ready' || (this.state === 'running' && this.pid !== null);
  }

  status(now: number, waitingFor: () => string[]): ProgramStatus {
    const live = this.pid !== null;
    const s: ProgramStatus = {
      name: this.program,
      instance: this.index,
      pid: this.pid,
      state: this.state,
      restarts: this.restarts,
      uptimeMs: live ? Math.max(0, now - this.startedAt) : 0,
      memoryBytes: live ? this.memoryBytes : 0,
      cpuPercent: live ? this.cpuPercent : 0,
    };
    if (this.lastExit !== undefined) s.lastExit = this.lastExit;
    if (this.reason !== undefined) s.reason = this.reason;
    if (this.detail !== undefined) s.detail = this.detail;
    if (this.state === 'waiting') s.waitingFor = waitingFor();
    const logError = this.worker?.logError();
    if (logError !== undefined) s.logError = logError.message;
    if (live && this.worker?.isStopped() === true) s.suspended = true;
    return s;
  }
}

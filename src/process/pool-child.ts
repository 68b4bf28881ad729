// The parent's handle on one ProcessPool child: forks the runtime, batches calls into one IPC
// message per tick, and hands replies back in order. Because the child runs its calls one at a
// time in arrival order, the oldest call without a reply is the one running; the others sent
// ahead (pipelined) have not started and can be given to another child if this one dies.

import { fork, type ChildProcess } from 'node:child_process';
import { serialize } from 'node:v8';
import type { TimerHandle } from '../core/clock.js';
import { BosunError } from '../core/errors.js';
import { forgetGroup, killTree, listDescendants, signalQuietly, trackGroup, type ProcInfo } from './tree.js';
import type { ErrorRecord } from './remote-error.js';

export const RESULT = 0;
export const ERROR = 1;
export const MESSAGE = 2;
export const SKIPPED = 3;
/** Not from the child: the call failed in this process (its arguments could not be cloned). */
export const LOCAL_ERROR = 4;

/** A call as the pool tracks it from run() until it settles. */
export interface PoolCall {
  id: number;
  name: string;
  args: unknown[];
  timeoutMs: number | undefined;
  onMessage: ((message: unknown) => void) | undefined;
  signal: AbortSignal | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  settled: boolean;
  child: PoolChild | undefined;
  timer: TimerHandle | undefined;
}

export interface ChildEvents {
  /** A reply for `call` (already removed from inflight) of `kind` RESULT, ERROR, SKIPPED or LOCAL_ERROR. */
  reply(child: PoolChild, call: PoolCall, kind: number, payload: unknown): void;
  message(child: PoolChild, call: PoolCall, payload: unknown): void;
  /** Called after every batch of replies, so the pool can dispatch more. */
  idle(child: PoolChild): void;
  ready(child: PoolChild): void;
  initError(child: PoolChild, error: ErrorRecord): void;
  /** The child's code threw outside any call, or left a rejection unhandled; the child lives on. */
  stray(child: PoolChild, kind: StrayKind, error: ErrorRecord): void;
  exit(child: PoolChild, code: number | null, signal: NodeJS.Signals | null): void;
}

export type StrayKind = 'uncaughtException' | 'unhandledRejection';

export interface SpawnSpec {
  runtime: string;
  module: string;
  execArgv: string[];
  env: NodeJS.ProcessEnv | undefined;
}

/** A pool call whose arguments cannot cross to a child by structured clone; `index` names the argument. */
export class PoolArgumentError extends BosunError {
  /** Position in `args` of the first argument that cannot be cloned, or -1 if each clones alone. */
  readonly index: number;
  constructor(name: string, args: readonly unknown[], cause: unknown) {
    const index = args.findIndex((a) => !clones(a));
    const detail = cause instanceof Error ? cause.message : String(cause);
    const which = index < 0 ? 'its arguments' : `argument ${index}`;
    super(
      'ERR_POOL_ARGUMENT',
      `pool call ${name}: ${which} cannot be sent to a child (${detail}); arguments cross by structured clone, ` +
        'so pass data (no functions, symbols or handles)',
      { cause },
    );
    this.index = index;
  }
}

function clones(value: unknown): boolean {
  try {
    serialize(value);
    return true;
  } catch {
    return false;
  }
}

export class PoolChild {
  readonly proc: ChildProcess;
  readonly pid: number | undefined;
  /** Calls sent and not yet answered, oldest (running) first. */
  readonly inflight: PoolCall[] = [];
  /** Calls sent to this child over its life (for recycleAfter). */
  assigned = 0;
  ready = false;
  /** Takes no more calls: recycling, closing, or being killed. */
  retiring = false;
  exited = false;
  /** The pool asked it to stop (disconnect or kill), so its exit is no crash. */
  stopRequested = false;
  /** It was killed because the call it was running timed out or was aborted (and is settled). */
  runningSettled = false;
  /** Its code threw outside a call: it finishes the calls it holds, then a fresh child replaces it. */
  replaceWhenIdle = false;
  readonly #events: ChildEvents;
  #outbox: unknown[] = [];
  #flushQueued = false;
  readonly #flush = () => this.#send();

  constructor(spec: SpawnSpec, events: ChildEvents) {
    this.#events = events;
    this.proc = fork(spec.runtime, [spec.module], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true, // its own process group, so a kill reaches whatever a call started
      execArgv: spec.execArgv,
      env: spec.env,
    });
    this.pid = this.proc.pid;
    if (this.pid !== undefined) trackGroup(this.pid);
    this.proc.on('error', () => {}); // spawn failures surface as 'exit'; a failed send is followed by exit too
    this.proc.on('message', (m) => this.#onMessage(m));
    this.proc.once('exit', (code, signal) => {
      // Whatever the child started dies with it (and lets go of any pipe it inherited).
      if (this.pid !== undefined) signalQuietly(-this.pid, 'SIGKILL');
      const done = () => {
        if (this.exited) return;
        this.exited = true;
        this.retiring = true;
        if (this.pid !== undefined) forgetGroup(this.pid);
        events.exit(this, code, signal);
      };
      // 'exit' can overtake messages still in the channel; the channel's own end comes after the
      // last of them, so a reply already sent is never mistaken for a call cut short. A channel
      // held open by an escaped process is cut after a second (a safety net, not a behaviour
      // timer, hence no Clock).
      if (this.proc.connected) {
        this.proc.once('disconnect', done);
        setTimeout(() => {
          if (this.proc.connected) this.proc.disconnect();
          done();
        }, 1000).unref();
      } else done();
    });
  }

  /** Sends `call` (batched with others sent in the same tick). */
  dispatch(call: PoolCall): void {
    call.child = this;
    this.assigned++;
    this.inflight.push(call);
    this.#outbox.push(call.id, call.name, call.args);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Asks the child to skip a call it has not started. */
  cancel(id: number): void {
    this.#post({ t: 'cancel', id });
  }

  /** Graceful stop: closing the channel makes the runtime exit. */
  disconnect(): void {
    this.retiring = true;
    this.stopRequested = true;
    if (this.proc.connected) this.proc.disconnect();
  }

  /**
   * SIGKILLs the child, its process group and every descendant that left the group (a setsid'd
   * grandchild), found in /proc before the kill, as monitorProcess does. `all` is one
   * listProcesses() a caller killing many children can share.
   */
  kill(all?: ProcInfo[]): void {
    this.retiring = true;
    this.stopRequested = true;
    if (this.exited || this.pid === undefined) return;
    const snapshot = listDescendants(this.pid, all);
    killTree(this.pid, 'SIGKILL', snapshot);
    signalQuietly(this.pid, 'SIGKILL'); // reaches the child even if its group signal did not
  }

  #send(): void {
    this.#flushQueued = false;
    if (this.#outbox.length === 0) return;
    const c = this.#outbox;
    this.#outbox = [];
    this.#post({ t: 'calls', c });
  }

  #post(message: object): void {
    if (!this.proc.connected) return;
    try {
      this.proc.send(message, undefined, undefined, () => {});
    } catch (err) {
      // Arguments that cannot be cloned: fail those calls, not the child.
      const c = (message as { c?: unknown[] }).c;
      if (c === undefined) return;
      for (let i = 0; i < c.length; i += 3) {
        const call = this.#take(c[i] as number);
        if (call === undefined) continue;
        try {
          this.proc.send({ t: 'calls', c: [c[i], c[i + 1], c[i + 2]] }, undefined, undefined, () => {});
          this.inflight.push(call);
        } catch (e) {
          this.#events.reply(this, call, LOCAL_ERROR, new PoolArgumentError(call.name, call.args, e ?? err));
        }
      }
    }
  }

  #take(id: number): PoolCall | undefined {
    const i = this.inflight.findIndex((c) => c.id === id);
    return i < 0 ? undefined : this.inflight.splice(i, 1)[0];
  }

  #onMessage(m: unknown): void {
    if (Array.isArray(m)) {
      for (let i = 0; i < m.length; i += 3) {
        const kind = m[i] as number;
        const id = m[i + 1] as number;
        if (kind === MESSAGE) {
          const call = this.inflight[0]?.id === id ? this.inflight[0] : this.inflight.find((c) => c.id === id);
          if (call !== undefined) this.#events.message(this, call, m[i + 2]);
          continue;
        }
        const call = this.inflight[0]?.id === id ? this.inflight.shift() : this.#take(id);
        if (call !== undefined) this.#events.reply(this, call, kind, m[i + 2]);
      }
      this.#events.idle(this);
      return;
    }
    const t = (m as { t?: string }).t;
    if (t === 'ready') {
      this.ready = true;
      this.#events.ready(this);
    } else if (t === 'init-error') {
      this.#events.initError(this, (m as { error: ErrorRecord }).error);
    } else if (t === 'stray') {
      const { kind, error } = m as { kind: StrayKind; error: ErrorRecord };
      this.#events.stray(this, kind, error);
    }
  }
}

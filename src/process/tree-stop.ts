// Stopping a whole process tree, as systemd's KillMode=control-group would without a cgroup: find
// the tree (tree.ts: parent links, group, session, environment marker), send the kill signal and
// then SIGCONT (a SIGSTOPped program must run to handle it), and find the tree again when the
// root exits and when the grace ends, so what was born meanwhile (a helper a SIGTERM trap starts
// in a new session) is stopped too; SIGKILL whatever is left at the grace's end.

import type { Clock, TimerHandle } from '../core/clock.js';
import { findTree, killTree, listProcesses, stillAlive, type ProcInfo, type TreeRoot } from './tree.js';

export interface TreeStopOptions {
  root: TreeRoot;
  signal: NodeJS.Signals;
  graceMs: number;
  /** Times the grace; a TestClock decides when SIGKILL comes. */
  clock: Clock;
  /** Hears every signal meant for the root itself (a fake child's kill()). */
  signalRoot?: (signal: NodeJS.Signals) => void;
}

export class TreeStop {
  readonly #o: TreeStopOptions;
  #snapshot: ProcInfo[];
  #grace: TimerHandle | undefined;
  #graceOver = false;
  #rootGone = false;

  /** Signals the tree at once; SIGKILL follows after `graceMs` unless the signal was SIGKILL. */
  constructor(o: TreeStopOptions) {
    this.#o = o;
    // Parentage first: once the root dies its children are reparented and lose their link.
    this.#snapshot = findTree(o.root);
    o.signalRoot?.(o.signal);
    this.#signal(o.signal, this.#snapshot);
    if (o.signal === 'SIGKILL') this.#graceEnds();
    else this.#grace = o.clock.setTimeout(() => this.#graceEnds(), o.graceMs);
  }

  /**
   * The root has exited: waits until nothing of the tree is left, looking for newcomers once
   * more before giving up the wait, or until the grace's SIGKILL. Resolves once the SIGKILLed
   * are gone (bounded: 2 s of real time).
   */
  async rootExited(): Promise<void> {
    this.#rootGone = true;
    const pid = this.#o.root.pid;
    this.#refind(this.#graceOver ? 'SIGKILL' : this.#o.signal);
    const survivors = () =>
      stillAlive(
        mergeProcs(
          this.#snapshot,
          listProcesses().filter((p) => p.pgrp === pid || p.sid === pid),
        ),
      );
    let left = survivors();
    // Polls use real time: they only observe deaths. The grace itself is a Clock timer, so a
    // TestClock decides when SIGKILL comes, and a test needs no advance for children that obey.
    while (!this.#graceOver) {
      if (left.length === 0 && !this.#refind(this.#o.signal)) break; // one last look before settling
      await realSleep(20);
      left = survivors();
    }
    if (left.length > 0) killTree(pid, 'SIGKILL', left);
    // SIGKILLed non-children become zombies of their own parents (or init) almost at once.
    for (let i = 0; i < 200 && left.length > 0; i++) {
      await realSleep(10);
      left = survivors();
    }
    this.#grace?.clear();
  }

  /** `signal`, then SIGCONT (as systemd does). */
  #signal(signal: NodeJS.Signals, procs: ProcInfo[]): void {
    killTree(this.#o.root.pid, signal, procs);
    if (signal !== 'SIGKILL' && signal !== 'SIGCONT') killTree(this.#o.root.pid, 'SIGCONT', procs);
  }

  #graceEnds(): void {
    if (this.#graceOver) return;
    this.#graceOver = true;
    this.#snapshot = mergeProcs(this.#snapshot, findTree(this.#o.root));
    if (!this.#rootGone) this.#o.signalRoot?.('SIGKILL');
    killTree(this.#o.root.pid, 'SIGKILL', this.#snapshot);
  }

  /** Finds the tree again; what is new since the snapshot gets `signal` (+ SIGCONT). True if anything was new. */
  #refind(signal: NodeJS.Signals): boolean {
    const known = new Set(this.#snapshot.map(key));
    const added = findTree(this.#o.root).filter((p) => !known.has(key(p)));
    if (added.length === 0) return false;
    this.#snapshot = [...this.#snapshot, ...added];
    this.#signal(signal, added);
    return true;
  }
}

/**
 * SIGKILLs what is left of the tree of a root that ended on its own (its group at once, the rest
 * through a /proc scan on the next turn of the event loop, off the caller's path).
 */
export function sweepOrphans(root: TreeRoot, later: Promise<unknown>): void {
  killTree(root.pid, 'SIGKILL', []);
  const sweep = () => void setImmediate(() => killTree(root.pid, 'SIGKILL', findTree(root)));
  later.then(sweep, sweep);
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const key = (p: ProcInfo) => `${p.pid}:${p.startTime}`;

function mergeProcs(a: ProcInfo[], b: ProcInfo[]): ProcInfo[] {
  const seen = new Set(a.map(key));
  return [...a, ...b.filter((p) => !seen.has(key(p)))];
}

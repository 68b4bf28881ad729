// The fence: a small watchdog process, one per daemon that runs singletons, which stops a
// singleton's whole process tree before its lease can expire when nobody renews it. The daemon
// feeds it renewal deadlines over its stdin (fence-protocol.ts); at `goneBy - killTimeout` of a
// tenure that was not renewed it sends killSignal (then SIGCONT, for a stopped program), and at
// `goneBy` SIGKILL to whatever is left. It runs outside the daemon's event loop, in a session of
// its own, so the daemon's SIGKILL, SIGSTOP or a stalled loop do not stop it.
//
// It is not a new way to leave orphans: once its stdin closes (the daemon exited or died) it
// only finishes the deadlines it holds and exits; the daemon's clean shutdown releases them
// first. Asked to stop (SIGTERM, SIGINT, SIGHUP), it fences everything it holds at once, then
// exits: a watchdog that leaves takes what it guards with it.

import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { listDescendants, listProcesses, isAlive, signalQuietly, type ProcInfo } from '../process/tree.js';
import { FENCE_ENV, monotonicMs, type FenceMessage, type HoldMessage } from './fence-protocol.js';

interface Entry {
  hold: HoldMessage;
  /** The program's /proc start time, read when its pid arrived: guards against pid reuse. */
  startTime: number | undefined;
  phase: 'armed' | 'stopping' | 'killing';
  timer: NodeJS.Timeout | undefined;
  /** Every process signalled so far, checked again at SIGKILL time. */
  hit: Map<number, ProcInfo>;
}

/** How long after SIGKILL the fence keeps looking for survivors before it lets go. */
const KILL_CHECK_MS = 2000;

const entries = new Map<string, Entry>();
let orphaned = false;

function report(line: string): void {
  // The daemon may be gone: its end of the pipe closed. Nothing to do about it.
  if (!process.stdout.destroyed) process.stdout.write(`${line}\n`);
}

function onHold(h: HoldMessage): void {
  let e = entries.get(h.id);
  if (e === undefined) {
    e = { hold: h, startTime: undefined, phase: 'armed', timer: undefined, hit: new Map() };
    entries.set(h.id, e);
  }
  if (h.pid !== null && e.startTime === undefined) e.startTime = startTimeOf(h.pid);
  // Once stopping began it is never undone: a renewal that comes that late came too late.
  if (e.phase !== 'armed') return;
  e.hold = { ...h, pid: h.pid ?? e.hold.pid };
  arm(e);
}

function onRelease(id: string): void {
  const e = entries.get(id);
  if (e === undefined || e.phase !== 'armed') return;
  clearTimeout(e.timer);
  entries.delete(id);
  maybeExit();
}

function arm(e: Entry): void {
  clearTimeout(e.timer);
  const stopAt = e.hold.goneBy - e.hold.killTimeoutMs;
  e.timer = setTimeout(() => stop(e), Math.max(0, stopAt - monotonicMs()));
}

function stop(e: Entry): void {
  e.phase = 'stopping';
  const procs = treeOf(e);
  signalAll(e, procs, e.hold.killSignal);
  signalAll(e, procs, 'SIGCONT');
  e.timer = setTimeout(() => kill(e), Math.max(0, e.hold.goneBy - monotonicMs()));
}

function kill(e: Entry): void {
  e.phase = 'killing';
  const started = monotonicMs();
  const sweep = (): void => {
    const procs = [...treeOf(e), ...[...e.hit.values()].filter((p) => isAlive(p.pid, p.startTime))];
    if (procs.length === 0 || monotonicMs() - started > KILL_CHECK_MS) {
      if (procs.length > 0) report(`survivors ${e.hold.id} ${procs.map((p) => p.pid).join(',')}`);
      entries.delete(e.hold.id);
      report(`fenced ${e.hold.id} ${e.hit.size}`);
      maybeExit();
      return;
    }
    signalAll(e, procs, 'SIGKILL');
    e.timer = setTimeout(sweep, 20);
  };
  sweep();
}

/** Signals each process that is still the one seen (pid and start time), and the program's group while its leader is. */
function signalAll(e: Entry, procs: ProcInfo[], signal: string): void {
  const pid = knownPid(e);
  if (pid !== undefined && isAlive(pid, e.startTime)) signalQuietly(-pid, signal as NodeJS.Signals);
  for (const p of procs) {
    if (!isAlive(p.pid, p.startTime)) continue;
    if (signalQuietly(p.pid, signal as NodeJS.Signals)) e.hit.set(p.pid, p);
  }
}

/** The tenure's live processes: the program and its descendants (if the pid is still the program), and every process carrying its marker, with theirs. */
function treeOf(e: Entry): ProcInfo[] {
  const all = listProcesses().filter((p) => p.state !== 'Z' && p.state !== 'X');
  const found = new Map<number, ProcInfo>();
  const addTree = (root: ProcInfo) => {
    found.set(root.pid, root);
    for (const d of listDescendants(root.pid, all)) found.set(d.pid, d);
  };
  const pid = knownPid(e);
  if (pid !== undefined) {
    const root = all.find((p) => p.pid === pid);
    if (root !== undefined && root.startTime === e.startTime) addTree(root);
  }
  const needle = `${FENCE_ENV}=${e.hold.marker}\0`;
  for (const p of all) {
    if (found.has(p.pid) || p.pid === process.pid) continue;
    if (environOf(p.pid).includes(needle)) addTree(p);
  }
  return [...found.values()];
}

/** The program's pid, when it is known to be the program's: seen alive with its start time. */
function knownPid(e: Entry): number | undefined {
  return e.hold.pid !== null && e.startTime !== undefined ? e.hold.pid : undefined;
}

function environOf(pid: number): string {
  try {
    // A trailing NUL so the last variable matches like every other.
    return `${readFileSync(`/proc/${pid}/environ`, 'latin1')}\0`;
  } catch {
    return '';
  }
}

function startTimeOf(pid: number): number | undefined {
  return listProcesses().find((p) => p.pid === pid)?.startTime;
}

function maybeExit(): void {
  if (orphaned && entries.size === 0) process.exit(0);
}

/** Fences every tenure now (a stop signal reached the fence). */
function fenceAll(): void {
  orphaned = true;
  for (const e of entries.values()) {
    if (e.phase !== 'armed') continue;
    clearTimeout(e.timer);
    e.hold = { ...e.hold, goneBy: monotonicMs() + e.hold.killTimeoutMs };
    stop(e);
  }
  maybeExit();
}

function main(): void {
  // A late timer here is a margin spent; ask the scheduler to prefer us (allowed for root only).
  try {
    setPriority(-10);
  } catch {
    // not permitted: run at the daemon's priority
  }
  process.stdout.on('error', () => {});
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, fenceAll);
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let msg: FenceMessage;
      try {
        msg = JSON.parse(line) as FenceMessage;
      } catch {
        continue;
      }
      if (msg.t === 'hold') onHold(msg);
      else if (msg.t === 'release') onRelease(msg.id);
    }
  });
  const gone = () => {
    orphaned = true;
    maybeExit();
  };
  process.stdin.on('end', gone);
  process.stdin.on('error', gone);
  report('ready');
}

main();

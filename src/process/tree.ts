// Process trees from Linux /proc: who descends from a pid, how much memory and CPU the tree
// uses, and a kill that reaches the whole tree. Parentage must be read *before* a kill: once a
// parent dies its children are reparented to init (or a subreaper) and the link is gone.
//
// What cannot be caught: a process that double-forks (or calls setsid and its parent exits)
// before we take the snapshot is already reparented to init; it is neither in our process group
// nor among our descendants, so nothing here can find it. Snapshots are taken at kill time and
// again when the grace ends, which catches everything still attached to the tree at those
// moments. On systems without /proc only the process group is signalled.

import { readFileSync, readdirSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** One-letter state: R, S, D, Z (zombie), T, ... */
  state: string;
  /** Start time in clock ticks since boot; with `pid` it identifies a process across pid reuse. */
  startTime: number;
  /** User + system CPU time in clock ticks. */
  cpuTicks: number;
}

/** Clock ticks per second for /proc times; 100 on every mainstream Linux build. */
const TICKS_PER_SEC = 100;

/** Reads /proc/<pid>/stat; undefined when the process is gone (or /proc is absent). */
export function procInfo(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) is in parentheses and may itself contain spaces or ')': split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field n is f[n - 3].
  return {
    pid,
    state: f[0] ?? '?',
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    cpuTicks: Number(f[11]) + Number(f[12]),
    startTime: Number(f[19]),
  };
}

/** Every process visible in /proc (empty without /proc). */
export function listProcesses(): ProcInfo[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const info = procInfo(Number(name));
    if (info !== undefined) out.push(info);
  }
  return out;
}

/**
 * Descendants of `pid` (not `pid` itself), parents before children, found through the ppid links
 * of one /proc scan. Also includes members of process group `pid` that were reparented away.
 */
export function listDescendants(pid: number, all: ProcInfo[] = listProcesses()): ProcInfo[] {
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of all) {
    let list = byParent.get(p.ppid);
    if (list === undefined) byParent.set(p.ppid, (list = []));
    list.push(p);
  }
  const out: ProcInfo[] = [];
  const seen = new Set<number>([pid]);
  const queue: number[] = [pid];
  // Group members whose parent died are no longer linked to pid, but their pgrp still says whose they are.
  for (const p of all) {
    if (p.pgrp === pid && !seen.has(p.pid)) {
      seen.add(p.pid);
      out.push(p);
      queue.push(p.pid);
    }
  }
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const child of byParent.get(parent) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/** True while the process exists and is not a zombie (and is the same one, if `startTime` given). */
export function isAlive(pid: number, startTime?: number): boolean {
  const info = procInfo(pid);
  if (info === undefined) return !hasProc() && signalProbe(pid);
  if (startTime !== undefined && info.startTime !== startTime) return false;
  return info.state !== 'Z' && info.state !== 'X';
}

let procPresent: boolean | undefined;
function hasProc(): boolean {
  if (procPresent === undefined) procPresent = procInfo(process.pid) !== undefined;
  return procPresent;
}

function signalProbe(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` ignoring "no such process". Returns whether it was delivered. */
export function signalQuietly(pid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Signals process group `pid` and then every process in `snapshot` (default: the descendants
 * found now) that is still the same process. Returns the processes signalled besides the group,
 * so a caller can check them again later.
 */
export function killTree(pid: number, signal: NodeJS.Signals, snapshot: ProcInfo[] = listDescendants(pid)): ProcInfo[] {
  signalQuietly(-pid, signal);
  const hit: ProcInfo[] = [];
  for (const p of snapshot) {
    if (p.pgrp === pid) continue; // the group signal already reached it
    if (!isAlive(p.pid, p.startTime)) continue;
    if (signalQuietly(p.pid, signal)) hit.push(p);
  }
  return hit;
}

/** Of `procs`, those still alive (same pid and start time, not a zombie). */
export function stillAlive(procs: ProcInfo[]): ProcInfo[] {
  return procs.filter((p) => isAlive(p.pid, p.startTime));
}

/** Resident memory in bytes of `pid` plus its descendants; 0 when the process is gone. */
export function treeRss(pid: number): number {
  const pids = [pid, ...listDescendants(pid).map((p) => p.pid)];
  let bytes = 0;
  for (const p of pids) bytes += rssBytes(p);
  return bytes;
}

function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU time in ms used so far by `pid` and its live descendants (reaped ones are not counted). */
export function treeCpuMs(pid: number): number {
  const all = listProcesses();
  const self = all.find((p) => p.pid === pid);
  if (self === undefined) return 0;
  let ticks = self.cpuTicks;
  for (const d of listDescendants(pid, all)) ticks += d.cpuTicks;
  return (ticks * 1000) / TICKS_PER_SEC;
}

// Process groups still running when this process exits get SIGKILL, so a parent that exits
// (or crashes through process.exit) without stopping its children leaves no orphans.
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** SIGKILLs process group `pgid` if this process exits while it is still tracked. */
export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const g of liveGroups) signalQuietly(-g, 'SIGKILL');
  });
}

/** Stops tracking `pgid` (its leader has been reaped). */
export function forgetGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

// Process trees from Linux /proc: who descends from a pid, how much memory and CPU the tree
// uses, and a kill that reaches the whole tree. Parentage must be read *before* a kill: once a
// parent dies its children are reparented to init (or a subreaper) and the link is gone.
//
// So a tree is found four ways at once (findTree): parent links from the root, the root's
// process group, its session (the root is a session leader: spawned detached), and an
// environment marker the monitor sets in the root's environment (BOSUN_TREE=<id>), which every
// descendant inherits unless it rebuilds its environment. The marker finds what the other three
// cannot: a helper that called setsid() and whose parent has exited, reparented to init.
//
// What still escapes: a process that clears or rewrites its environment *and* leaves the group
// and session *and* loses its parent link (setsid + double fork) before a scan. Only a cgroup or
// PR_SET_CHILD_SUBREAPER would hold it, and Node exposes neither. On systems without /proc only
// the process group is signalled. Another user's environment is unreadable unless we are root.
//
// Files are read through one reused buffer rather than readFileSync, which allocates 64 KB for
// every file of unknown size (all of /proc): the daemon samples its trees every second.

import { closeSync, existsSync, openSync, readSync, readdirSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** Session id. */
  sid: number;
  /** One-letter state: R, S, D, Z (zombie), T, ... */
  state: string;
  /** Start time in clock ticks since boot; with `pid` it identifies a process across pid reuse. */
  startTime: number;
  /** User + system CPU time in clock ticks. */
  cpuTicks: number;
}

/** Clock ticks per second for /proc times; 100 on every mainstream Linux build. */
const TICKS_PER_SEC = 100;
/** Bytes per page of /proc/<pid>/statm; 4096 on the x86_64 and arm64 builds we run on. */
const PAGE = 4096;

// One buffer for every read; 64 KB holds any stat or statm and the children list of a busy parent.
const buf = Buffer.alloc(64 * 1024);

/** The start of a /proc file (up to 64 KB), or '' when it is gone. */
function readProc(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    return buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return '';
  } finally {
    closeSync(fd);
  }
}

/** Reads /proc/<pid>/stat; undefined when the process is gone (or /proc is absent). */
export function procInfo(pid: number): ProcInfo | undefined {
  const text = readProc(`/proc/${pid}/stat`);
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
    sid: Number(f[3]),
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

/** The environment variable whose comma-separated ids mark the processes of a monitored tree. */
export const TREE_ENV = 'BOSUN_TREE';

/** What identifies a tree: its root's pid (= pgid = sid), start time, and environment marker. */
export interface TreeRoot {
  pid: number;
  /** The root's start time; processes older than it cannot descend from it, so their environment is not read. */
  startTime?: number;
  /** An id in the TREE_ENV of every process of the tree. */
  marker?: string;
}

/**
 * Every process of the tree rooted at `root.pid`, the root excepted, parents before children:
 * descendants by parent links, members of its process group and of its session, and processes
 * carrying its marker, plus the descendants of all of those. Works after the root has exited.
 */
export function findTree(root: TreeRoot, all: ProcInfo[] = listProcesses()): ProcInfo[] {
  return findTrees([root], all);
}

/** findTree for many roots at once (the roots excepted): each environment is read once, not once a root. */
export function findTrees(roots: readonly TreeRoot[], all: ProcInfo[] = listProcesses()): ProcInfo[] {
  const rootPids = new Set(roots.map((r) => r.pid));
  const markers = new Set<string>();
  // A descendant is never older than its root: older processes' environments need no reading.
  let oldest = Infinity;
  for (const r of roots) {
    if (r.marker === undefined) continue;
    markers.add(r.marker);
    oldest = Math.min(oldest, r.startTime ?? 0);
  }
  const found: ProcInfo[] = [];
  const seen = new Set<number>(rootPids);
  const add = (p: ProcInfo) => {
    if (seen.has(p.pid)) return;
    seen.add(p.pid);
    found.push(p);
  };
  for (const r of roots) for (const d of listDescendants(r.pid, all)) add(d);
  const extra: ProcInfo[] = [];
  for (const p of all) {
    if (seen.has(p.pid) || !live(p)) continue;
    const member =
      rootPids.has(p.sid) ||
      (markers.size > 0 && p.startTime >= oldest && !isKernelThread(p) && treeMarkers(p.pid).some((m) => markers.has(m)));
    if (member) extra.push(p);
  }
  for (const p of extra) {
    add(p);
    for (const d of listDescendants(p.pid, all)) add(d);
  }
  return found;
}

/** kthreadd (pid 2) and its children have no environment worth reading. */
const isKernelThread = (p: ProcInfo) => p.pid === 2 || p.ppid === 2;

/** The ids in `pid`'s TREE_ENV (empty when it has none or its environment is unreadable). */
export function treeMarkers(pid: number): string[] {
  const value = environValue(pid, TREE_ENV);
  return value === undefined || value === '' ? [] : value.split(',');
}

/** The value of `name` in /proc/<pid>/environ (the environment the process was exec'd with). */
export function environValue(pid: number, name: string): string | undefined {
  const env = readWhole(`/proc/${pid}/environ`);
  if (env === undefined) return undefined;
  const key = `${name}=`;
  for (let at = 0; ;) {
    const i = env.indexOf(key, at, 'latin1');
    if (i < 0) return undefined;
    if (i === 0 || env[i - 1] === 0) {
      const end = env.indexOf(0, i);
      return env.toString('latin1', i + key.length, end < 0 ? env.length : end);
    }
    at = i + 1;
  }
}

/** A whole /proc file, however long (an environment may pass 64 KB); undefined when unreadable. */
function readWhole(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n < buf.length) return buf.subarray(0, n);
    const parts = [Buffer.from(buf)];
    for (let pos = n; ;) {
      const chunk = Buffer.alloc(buf.length);
      const k = readSync(fd, chunk, 0, chunk.length, pos);
      if (k === 0) break;
      parts.push(chunk.subarray(0, k));
      pos += k;
    }
    return Buffer.concat(parts);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** True while the process is stopped (state T: SIGSTOP, SIGTSTP; or t: stopped by a tracer). */
export function isStopped(pid: number, startTime?: number): boolean {
  const info = procInfo(pid);
  if (info === undefined || (startTime !== undefined && info.startTime !== startTime)) return false;
  return info.state === 'T' || info.state === 't';
}

let bootMs: number | undefined;

/** Wall-clock time (ms since the epoch) at which a process with this /proc start time started. */
export function startTimeMs(startTime: number): number {
  if (bootMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readProc('/proc/stat'));
    bootMs = m === null ? 0 : Number(m[1]) * 1000;
  }
  return bootMs + (startTime * 1000) / TICKS_PER_SEC;
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
    // The group signal reached it if it is in the group still: one that left since the snapshot
    // (setsid between its fork and its exec) is signalled on its own.
    if (p.pgrp === pid && procInfo(p.pid)?.pgrp === pid) continue;
    if (!isAlive(p.pid, p.startTime)) continue;
    if (signalQuietly(p.pid, signal)) hit.push(p);
  }
  return hit;
}

/** Of `procs`, those still alive (same pid and start time, not a zombie). */
export function stillAlive(procs: ProcInfo[]): ProcInfo[] {
  return procs.filter((p) => isAlive(p.pid, p.startTime));
}

/** Resident memory and CPU time of a process tree. */
export interface TreeUsage {
  rssBytes: number;
  /** User + system CPU time in clock ticks (1/100 s) of the live processes of the tree. */
  cpuTicks: number;
}

let childrenFiles: boolean | undefined;

/**
 * True when the kernel lists each thread's children (/proc/<pid>/task/<tid>/children), so a
 * tree can be walked from its root without scanning every process on the machine.
 */
export function canWalkChildren(): boolean {
  return (childrenFiles ??= existsSync(`/proc/${process.pid}/task/${process.pid}/children`));
}

/**
 * Usage of `pid` and its live descendants; undefined when `pid` is gone or a zombie. Given
 * `all` (one `listProcesses()` shared by many calls) it follows parent links and group members
 * as `listDescendants` does; otherwise it walks the children lists from `pid` when the kernel
 * has them, and scans /proc when it does not.
 */
export function treeUsage(pid: number, all?: ProcInfo[]): TreeUsage | undefined {
  if (all === undefined && canWalkChildren()) return walkChildren(pid);
  const procs = all ?? listProcesses();
  const self = procs.find((p) => p.pid === pid);
  if (self === undefined || !live(self)) return undefined;
  const usage = { rssBytes: rssBytes(pid), cpuTicks: self.cpuTicks };
  for (const d of listDescendants(pid, procs)) {
    if (!live(d)) continue;
    usage.rssBytes += rssBytes(d.pid);
    usage.cpuTicks += d.cpuTicks;
  }
  return usage;
}

const live = (p: ProcInfo) => p.state !== 'Z' && p.state !== 'X';

/** treeUsage through the per-thread children lists: reads only the tree's own files. */
function walkChildren(root: number): TreeUsage | undefined {
  const self = procInfo(root);
  if (self === undefined || !live(self)) return undefined;
  const usage = { rssBytes: rssBytes(root), cpuTicks: self.cpuTicks };
  const stack = [root];
  const seen = new Set<number>(stack);
  while (stack.length > 0) {
    const pid = stack.pop()!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      const list = readProc(`/proc/${pid}/task/${tid}/children`);
      let from = 0;
      while (from < list.length) {
        let to = list.indexOf(' ', from);
        if (to < 0) to = list.length;
        const child = Number(list.slice(from, to));
        from = to + 1;
        if (!(child > 0) || seen.has(child)) continue;
        seen.add(child);
        const info = procInfo(child);
        if (info === undefined || !live(info)) continue;
        usage.cpuTicks += info.cpuTicks;
        usage.rssBytes += rssBytes(child);
        stack.push(child);
      }
    }
  }
  return usage;
}

/** Resident memory in bytes of `pid` plus its descendants; 0 when the process is gone. */
export function treeRss(pid: number): number {
  return treeUsage(pid, listProcesses())?.rssBytes ?? 0;
}

/** User + system CPU time in ms used so far by `pid` and its live descendants (reaped ones are not counted). */
export function treeCpuMs(pid: number): number {
  return ((treeUsage(pid, listProcesses())?.cpuTicks ?? 0) * 1000) / TICKS_PER_SEC;
}

function rssBytes(pid: number): number {
  return Number(readProc(`/proc/${pid}/statm`).split(' ')[1] ?? 0) * PAGE;
}

// Trees still running when this process exits get SIGKILL (group, session, descendants and
// marker), so a parent that exits (or crashes through process.exit, or a second Ctrl-C) without
// stopping its children leaves no orphans, not even a descendant in a group of its own.
const liveTrees = new Map<number, TreeRoot>();
let exitHookInstalled = false;

/** SIGKILLs the tree of `pgid` (see findTree) if this process exits while it is still tracked. */
export function trackGroup(pgid: number, root: Omit<TreeRoot, 'pid'> = {}): void {
  liveTrees.set(pgid, { ...root, pid: pgid });
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killTrackedTrees);
}

/** Stops tracking `pgid` (its leader has been reaped). */
export function forgetGroup(pgid: number): void {
  liveTrees.delete(pgid);
}

function killTrackedTrees(): void {
  if (liveTrees.size === 0) return;
  // Scan before killing: a dead parent's children are reparented and lose their link to the root.
  const found = findTrees([...liveTrees.values()]);
  for (const g of liveTrees.keys()) signalQuietly(-g, 'SIGKILL');
  for (const p of found) signalQuietly(p.pid, 'SIGKILL');
}

// Runs an earlier daemon on this home started but never recorded in its state file: it was
// killed between a spawn and the state write that follows it. Every durable program carries
// its home in BOSUN_HOME (with BOSUN_PROGRAM and BOSUN_INSTANCE), so the next daemon finds such
// a run in /proc and stops it before starting the instance anew, rather than run a second copy.
// Processes of trees the state file knows (adopted or being stopped) are told apart by their
// tree marker (BOSUN_TREE), which every descendant inherits.

import { readlinkSync } from 'node:fs';
import { environValue, isAlive, listProcesses, treeMarkers, type ProcInfo } from '../process/tree.js';

/** The environment variable holding a durable program's fleet home. */
export const HOME_ENV = 'BOSUN_HOME';

export interface UnrecordedRun {
  program: string;
  index: number;
  pid: number;
  startTime: number;
  /** What its stdout is (a named pipe's path for a durable program); undefined when unreadable. */
  stdout: string | undefined;
}

/**
 * The roots of program trees started for `home` that are not part of the trees rooted at
 * `known` (the live runs the state file lists): session leaders carrying the home whose parent
 * is not one of them, oldest first. A process whose environment cannot be read is not found.
 */
export function unrecordedRuns(
  home: string,
  known: readonly { pid: number; startTime: number }[],
  all: ProcInfo[] = listProcesses(),
): UnrecordedRun[] {
  const knownMarkers = new Set<string>();
  for (const k of known) if (isAlive(k.pid, k.startTime)) for (const m of treeMarkers(k.pid)) knownMarkers.add(m);
  const knownPids = new Set(known.map((k) => k.pid));
  const candidates = new Map<number, ProcInfo>();
  for (const p of all) {
    if (p.pid === process.pid || p.pid === 2 || p.ppid === 2 || p.state === 'Z' || p.state === 'X' || knownPids.has(p.pid)) continue;
    if (environValue(p.pid, HOME_ENV) !== home) continue;
    if (treeMarkers(p.pid).some((m) => knownMarkers.has(m))) continue;
    candidates.set(p.pid, p);
  }
  const runs: UnrecordedRun[] = [];
  for (const p of candidates.values()) {
    // A program is spawned in a session of its own; its children are found with its tree.
    if (p.sid !== p.pid || candidates.has(p.ppid)) continue;
    const program = environValue(p.pid, 'BOSUN_PROGRAM');
    const index = Number(environValue(p.pid, 'BOSUN_INSTANCE'));
    if (program === undefined || !Number.isSafeInteger(index) || index < 0) continue;
    runs.push({ program, index, pid: p.pid, startTime: p.startTime, stdout: linkOf(`/proc/${p.pid}/fd/1`) });
  }
  return runs.sort((a, b) => a.startTime - b.startTime);
}

function linkOf(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

// What an earlier daemon on this home left that its state file cannot tell: runs it started but
// never recorded (it was killed between a spawn and the state write that follows it), and what
// a listed program left behind when it died by itself while no daemon ran (children in its
// session, or in sessions of their own). Every durable program carries its home in BOSUN_HOME
// (with BOSUN_PROGRAM and BOSUN_INSTANCE), so the next daemon finds these in /proc and stops
// them before starting the instance anew, rather than run a second copy beside them. Processes
// of trees the state file knows alive (adopted or being stopped) are told apart by their tree
// marker (BOSUN_TREE), which every descendant inherits.

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

export interface Leftovers {
  /** Roots of runs the state file does not list, oldest first. */
  unrecorded: UnrecordedRun[];
  /**
   * The pids of listed runs whose root is gone while members of its session or process group
   * that carry the home live on (what a program killed by itself left in its session). The
   * kernel does not reuse a pid while it names a live session or group, so the dead root's pid
   * still names exactly those.
   */
  orphaned: Set<number>;
}

/**
 * What an earlier daemon on `home` left beside the live runs its state file lists (`entries`):
 * session leaders carrying the home that belong to none of the listed trees and whose parent is
 * not one of them (unrecorded runs; their children are found with their tree), and the sessions
 * of listed runs whose root died. A process whose environment cannot be read is not found.
 */
export function findLeftovers(
  home: string,
  entries: readonly { pid: number; startTime: number }[],
  all: ProcInfo[] = listProcesses(),
): Leftovers {
  const knownMarkers = new Set<string>();
  const dead = new Map<number, number>();
  for (const k of entries) {
    if (isAlive(k.pid, k.startTime)) for (const m of treeMarkers(k.pid)) knownMarkers.add(m);
    else dead.set(k.pid, k.startTime);
  }
  const knownPids = new Set(entries.map((k) => k.pid));
  const candidates = new Map<number, ProcInfo>();
  for (const p of all) {
    if (p.pid === process.pid || p.pid === 2 || p.ppid === 2 || p.state === 'Z' || p.state === 'X' || knownPids.has(p.pid)) continue;
    if (environValue(p.pid, HOME_ENV) !== home) continue;
    if (treeMarkers(p.pid).some((m) => knownMarkers.has(m))) continue;
    candidates.set(p.pid, p);
  }
  const unrecorded: UnrecordedRun[] = [];
  const orphaned = new Set<number>();
  for (const p of candidates.values()) {
    for (const id of [p.sid, p.pgrp]) {
      const rootStart = dead.get(id);
      if (rootStart !== undefined && p.startTime >= rootStart) orphaned.add(id);
    }
    // A program is spawned in a session of its own; its children are found with its tree.
    if (p.sid !== p.pid || candidates.has(p.ppid)) continue;
    const program = environValue(p.pid, 'BOSUN_PROGRAM');
    const index = Number(environValue(p.pid, 'BOSUN_INSTANCE'));
    if (program === undefined || !Number.isSafeInteger(index) || index < 0) continue;
    unrecorded.push({ program, index, pid: p.pid, startTime: p.startTime, stdout: linkOf(`/proc/${p.pid}/fd/1`) });
  }
  return { unrecorded: unrecorded.sort((a, b) => a.startTime - b.startTime), orphaned };
}

function linkOf(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

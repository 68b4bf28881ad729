// One process at a time in a PGlite directory: `lockDir` takes <dir>/bosun.lock, holding
// "<pid> <start time>" (the start time from /proc/<pid>/stat tells a live holder from a new
// process that was given a dead holder's pid). A second opener fails at once with
// StoreLockedError naming the holder; a lock left by a process that died (SIGKILL, power
// loss) is stale and taken over, so a reopen after a crash just works.
//
// The lock is taken with link(2), which fails if the name exists, so two openers racing for a
// free directory cannot both win; a stale lock is moved aside with rename(2) before taking it.

import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreLockedError } from './errors.js';

const LOCK_NAME = 'bosun.lock';

/** Start time of `pid` in clock ticks since boot, or undefined when it is gone (or no /proc). */
function startTimeOf(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces or ')': fields after the last ')' start at field 3.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X') return undefined;
  return Number(f[19]);
}

function alive(pid: number, startTime: number | undefined): boolean {
  const now = startTimeOf(pid);
  if (now !== undefined) return startTime === undefined || now === startTime;
  try {
    process.kill(pid, 0); // no /proc: a signal probe is the best we have
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): { text: string; pid: number; startTime: number | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const [pid, start] = text.trim().split(' ').map(Number);
  return { text, pid: Number.isSafeInteger(pid) ? pid! : 0, startTime: Number.isFinite(start) ? start : undefined };
}

/** Takes the directory's lock; resolves to its release. Throws StoreLockedError while another live process holds it. */
export function lockDir(dir: string): () => void {
  const path = join(dir, LOCK_NAME);
  const mine = `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`;
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, mine, { mode: 0o600 });
  try {
    for (let tries = 0; ; tries++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 10) throw err;
      }
      const held = readLock(path);
      if (held === undefined) continue; // released meanwhile
      if (held.pid > 0 && alive(held.pid, held.startTime)) throw new StoreLockedError(dir, held.pid);
      // Stale: move it aside, then check that what we moved is what we judged stale (a racing
      // opener may have taken over in between); if not, put it back.
      const aside = `${path}.stale.${randomBytes(4).toString('hex')}`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (readLock(aside)?.text !== held.text) {
        try {
          linkSync(aside, path);
        } catch {
          // someone holds it again: their lock stands, ours will be refused next round
        }
      }
      unlinkSync(aside);
    }
  } finally {
    unlinkSync(tmp);
  }
  return () => {
    if (readLock(path)?.text === mine) unlinkSync(path);
  };
}

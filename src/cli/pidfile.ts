// The daemon's pid file: written in one place, and judged by more than "a process with that
// pid lives". A pid is reused once its process is gone, so a stale file can name any process,
// even one with "bosun" in its command line. The daemon writes the file after it started, so a
// process that started after the file was last written cannot be the one that wrote it.

import { readFileSync, rmSync, statSync } from 'node:fs';
import { readHomeFile, writeHomeFile } from './home.js';
import { listensOn } from './unix-sockets.js';

/** Writes `pid` (default: this process) to `path`, mode 0644, without following a link. The one place the pid file is written. */
export function writePidFile(path: string, pid = process.pid): void {
  writeHomeFile(path, `${pid}\n`, 0o644);
}

/** The pid in the file, or undefined when there is none (or a link), or it holds no pid. */
export function readPidFile(path: string): number | undefined {
  const pid = Number(readHomeFile(path)?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The pid in the file when that process is alive and started before the file was written; else undefined. */
export function livePid(path: string): number | undefined {
  const pid = readPidFile(path);
  if (pid === undefined) return undefined;
  let writtenMs: number;
  try {
    writtenMs = statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  const startedMs = processStartMs(pid);
  if (startedMs === undefined) return undefined;
  // Boot time in /proc/stat has whole seconds and moves when the wall clock is stepped: allow for both.
  return startedMs <= writtenMs + SLACK_MS ? pid : undefined;
}

const SLACK_MS = 2000;
/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux architecture node runs on. */
const TICKS_PER_SECOND = 100;

/** When `pid` started (ms since the epoch, to about a second), or undefined when it is not alive (or a zombie). */
export function processStartMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses; the fields after the last ')' do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  // Field 22 (starttime) is the 20th after the name.
  const ticks = Number(fields[19]);
  const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
  if (!Number.isFinite(ticks) || btime === null) return undefined;
  return Number(btime[1]) * 1000 + (ticks * 1000) / TICKS_PER_SECOND;
}

/**
 * Removes the pid file when it names this process, and the socket when this process listens on
 * it: the last word of a daemon on its way out, whatever path it took (a signal during start-up,
 * a second Ctrl-C), so nothing stale is left for the next start. Another daemon's files stay.
 */
export function removeOwnFiles(pidFile: string, socket: string): void {
  if (listensOn(socket)) rmSync(socket, { force: true });
  if (readPidFile(pidFile) === process.pid) rmSync(pidFile, { force: true });
}

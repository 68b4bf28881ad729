// `bosun logs [name] [-n N] [-f] [--raw]`: the last lines of each instance's log, read by the
// client itself (so logs stay readable after the daemon stopped), back across rotated files,
// each with its time and stream from the log's index (`--raw`: the bytes as the program wrote
// them); then followed as `tail -F` does. Following keeps each file (and its index) open by
// descriptor, so a rotation loses nothing: the old file is read to its end, then any file that
// rotated away between two looks, then the new one from its start. A line without a newline (a
// prompt) is shown once it has sat unfinished a moment, and programs that `reload` adds are
// picked up as they appear.

import { once } from 'node:events';
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { indexPath, LineAssembler, parseIndex, readLastLines, readLastRawLines, type LogLine } from '../process/log-index.js';
import { clientHome, permissionDenied, reach } from './client.js';
import { request } from './control.js';
import type { LogFileRef } from './daemon.js';
import { EXIT, Exit, type Common } from './exit.js';
import { paths } from './paths.js';

/** The `bosun logs` command: asks the daemon where the logs are (else looks in <home>/logs), prints, follows. */
export async function logsCommand(name: string | undefined, lines: number, follow: boolean, raw: boolean, o: Common): Promise<number> {
  let home: string;
  let refs: LogFileRef[] | undefined;
  try {
    const r = await reach(o, { cmd: 'logfiles' });
    home = r.home;
    if (r.reply.ok) refs = r.reply.result as LogFileRef[];
  } catch (err) {
    // No daemon: the files are still there to read.
    if (!(err instanceof Exit) || err.exitCode !== EXIT.noDaemon) throw err;
    home = (await clientHome(o)).home;
  }
  const mine = (all: LogFileRef[]) => (name === undefined ? all : all.filter((r) => r.name === name));
  const scan = () => {
    try {
      return scanLogDir(paths(home).logs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') throw new Exit(EXIT.failed, permissionDenied(home));
      throw err;
    }
  };
  const chosen = mine(refs ?? scan());
  if (name !== undefined && chosen.length === 0) throw new Exit(EXIT.failed, `bosun: no logs for unknown program '${name}'`);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  try {
    await printLogs(chosen, {
      lines,
      follow,
      raw,
      signal: abort.signal,
      write: (chunk) => (process.stdout.write(chunk) ? undefined : once(process.stdout, 'drain').then(() => undefined)),
      discover: async () => {
        try {
          const r = await request(paths(home).socket, { cmd: 'logfiles' });
          if (r.ok) return mine(r.result as LogFileRef[]);
        } catch {
          // the daemon went away: what is in the folder
        }
        return mine(scan());
      },
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new Exit(EXIT.failed, permissionDenied(home));
    throw err;
  }
  return EXIT.ok;
}

/** Log files found in `<home>/logs` when no daemon can say where they are; [] when there is no such folder. */
export function scanLogDir(dir: string): LogFileRef[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: LogFileRef[] = [];
  for (const n of names.sort()) {
    const m = /^(.+)-(\d+)\.log$/.exec(n);
    if (m !== null) out.push({ name: m[1]!, instance: Number(m[2]), path: join(dir, n) });
  }
  return out;
}

/** One line as `bosun logs` shows it: `<time> <name>[<instance>] <out|err> | <text>` (`-` where the index does not say). */
export function formatLine(ref: LogFileRef, line: LogLine): Buffer {
  const time = line.time === undefined ? '-' : new Date(line.time).toISOString();
  const stream = line.stream === 'stdout' ? 'out' : line.stream === 'stderr' ? 'err' : '-';
  return Buffer.concat([Buffer.from(`${time} ${ref.name}[${ref.instance}] ${stream} | `), line.bytes, Buffer.of(10)]);
}

/** The last `n` lines of a log with their time and stream, back across its rotated files. */
export function lastLines(path: string, n: number): { lines: LogLine[]; size: number } {
  return readLastLines(path, n);
}

/** The last `n` lines of a log as written (`--raw`), back across its rotated files. */
export function lastRawLines(path: string, n: number): { bytes: Buffer; size: number } {
  return readLastRawLines(path, n);
}

export interface PrintLogsOptions {
  /** Lines of each log to print first (read back across rotated files). */
  lines: number;
  /** Keep printing new lines until `signal` aborts. */
  follow: boolean;
  /** The bytes as written, without time, stream or name. */
  raw?: boolean;
  signal?: AbortSignal;
  /** Writes bytes out; may return a promise to hold reading back until the output drains. */
  write: (chunk: Buffer) => void | Promise<void>;
  /** While following, called now and then for the current log files, to pick up added programs. */
  discover?: () => Promise<LogFileRef[]>;
  /** An unfinished line is shown after sitting this long. Default 300 ms. */
  partialMs?: number;
  /** How often files are looked at. Default 200 ms. */
  pollMs?: number;
}

const NL = 10;
/** A replaced file still read after its rotation, until it has not grown for this many polls. */
const RETIRE_POLLS = 10;
const DISCOVER_EVERY = 5;
/** The most rotated files a log keeps (logs.keep is at most this). */
const MAX_ROTATED = 1000;

/** One log file held open, with its index, its read positions and the line it is in the middle of. */
interface Open {
  fd: number;
  dev: number;
  ino: number;
  pos: number;
  idle: number;
  /** The index beside it, opened with it (a rotation renames both). */
  indexFd: number | undefined;
  indexPos: number;
  assembler: LineAssembler;
  /** Since when bytes after the last newline wait; undefined when none do. */
  partialSince: number | undefined;
}

interface Tracked {
  ref: LogFileRef;
  current: Open | undefined;
  /** Where to start in the file once it appears (its size when following began), else 0. */
  startAt: number;
  /** Files rotated away, still read to their end. */
  old: Open[];
  /** The newest file opened so far: files rotated after it were never seen. */
  lastSeen: { dev: number; ino: number } | undefined;
}

/** Prints the last `lines` lines of each log, then (with `follow`) what they get, until `signal` aborts. */
export async function printLogs(refs: LogFileRef[], o: PrintLogsOptions): Promise<void> {
  const buf = Buffer.alloc(256 * 1024);
  const partialMs = o.partialMs ?? 300;
  const raw = o.raw === true;
  const tracked = new Map<string, Tracked>();
  const track = (ref: LogFileRef, startAt: number): Tracked => {
    const t: Tracked = { ref, current: undefined, startAt, old: [], lastSeen: undefined };
    tracked.set(ref.path, t);
    return t;
  };

  const print = async (t: Tracked, lines: LogLine[]) => {
    if (lines.length > 0) await o.write(Buffer.concat(lines.map((l) => formatLine(t.ref, l))));
  };
  /** Reads `f` from its position to its end, its index first (the writer puts a record down before its bytes). */
  const drain = async (t: Tracked, f: Open): Promise<number> => {
    readNewRecords(f);
    let total = 0;
    for (;;) {
      const got = readSync(f.fd, buf, 0, buf.length, f.pos);
      if (got === 0) return total;
      const chunk = buf.subarray(0, got);
      if (raw) await o.write(Buffer.from(chunk));
      else await print(t, f.assembler.feed(f.pos, chunk));
      f.pos += got;
      total += got;
      f.partialSince = chunk[got - 1] === NL ? undefined : (f.partialSince ?? Date.now());
    }
  };
  const finish = async (t: Tracked, f: Open) => {
    if (!raw) await print(t, f.assembler.flush());
    closeOpen(f);
  };
  const openCurrent = (t: Tracked): boolean => {
    const f = openLog(t.ref.path);
    if (f === undefined) return false;
    f.pos = Math.min(t.startAt, fstatSync(f.fd).size);
    t.current = f;
    t.lastSeen = f;
    t.startAt = 0;
    return true;
  };

  // The tail, back across rotated files; following goes on from where it ended in the file held open.
  for (const ref of refs) {
    const t = track(ref, 0);
    if (!openCurrent(t)) continue;
    const f = t.current!;
    if (o.lines === 0) {
      f.pos = fstatSync(f.fd).size;
      continue;
    }
    let size: number;
    if (raw) {
      const tail = readLastRawLines(ref.path, o.lines);
      await o.write(tail.bytes);
      size = tail.size;
    } else {
      const tail = readLastLines(ref.path, o.lines);
      await print(t, tail.lines);
      size = tail.size;
    }
    // The file read is the one held open unless it rotated in between; then read the held one from its start.
    const st = statOrUndefined(ref.path);
    f.pos = st !== undefined && st.ino === f.ino && st.dev === f.dev ? size : 0;
  }
  if (!o.follow) {
    for (const t of tracked.values()) if (t.current !== undefined) closeOpen(t.current);
    return;
  }

  // Sizes now, for files that turn up later as programs added by reload: old content is not news.
  const known = new Map<string, number>();
  for (const ref of (await o.discover?.().catch(() => [])) ?? [])
    if (!tracked.has(ref.path)) known.set(ref.path, statOrUndefined(ref.path)?.size ?? 0);
  for (let polls = 0; o.signal?.aborted !== true; polls++) {
    if (o.discover !== undefined && polls % DISCOVER_EVERY === DISCOVER_EVERY - 1) {
      for (const ref of await o.discover().catch(() => [])) {
        if (!tracked.has(ref.path)) track(ref, known.get(ref.path) ?? 0);
      }
    }
    for (const t of tracked.values()) {
      const st = statOrUndefined(t.ref.path);
      const cur = t.current;
      if (cur !== undefined && st !== undefined && st.ino === cur.ino && st.dev === cur.dev) {
        if (st.size < cur.pos) {
          // Truncated in place (copytruncate): from the start, with the index read afresh.
          cur.pos = 0;
          cur.indexPos = 0;
          cur.assembler = new LineAssembler();
        }
      } else if (cur !== undefined || t.lastSeen !== undefined) {
        // Rotated or replaced: finish the old file (it may still get a last write), then any
        // file rotated away since the last look, then read the new one from its start.
        if (cur !== undefined) t.old.push(cur);
        t.current = undefined;
        const missed = rotatedSince(t.ref.path, t.lastSeen!);
        t.old.push(...missed);
        if (missed.length > 0) t.lastSeen = missed[missed.length - 1];
      }
      for (const f of [...t.old]) {
        f.idle = (await drain(t, f)) > 0 ? 0 : f.idle + 1;
        if (f.idle >= RETIRE_POLLS) {
          await finish(t, f);
          t.old.splice(t.old.indexOf(f), 1);
        }
      }
      if (t.current === undefined && st !== undefined) openCurrent(t);
      const f = t.current;
      if (f === undefined) continue;
      await drain(t, f);
      if (!raw && f.partialSince !== undefined && Date.now() - f.partialSince >= partialMs) {
        await print(t, f.assembler.flush());
        f.partialSince = undefined;
      }
    }
    try {
      await sleep(o.pollMs ?? 200, undefined, o.signal === undefined ? {} : { signal: o.signal });
    } catch {
      break; // aborted
    }
  }
  for (const t of tracked.values()) {
    for (const f of [...t.old, ...(t.current === undefined ? [] : [t.current])]) closeOpen(f);
  }
}

/** Opens a log and its index together; undefined when the log does not exist. */
function openLog(path: string): Open | undefined {
  for (;;) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let indexFd: number | undefined;
    try {
      indexFd = openSync(indexPath(path), 'r');
    } catch {
      indexFd = undefined;
    }
    const st = fstatSync(fd);
    // Rotated between the two opens: the index would be the next file's. Try again.
    const now = statOrUndefined(path);
    if (now !== undefined && (now.ino !== st.ino || now.dev !== st.dev)) {
      closeSync(fd);
      if (indexFd !== undefined) closeSync(indexFd);
      continue;
    }
    return { fd, dev: st.dev, ino: st.ino, pos: 0, idle: 0, indexFd, indexPos: 0, assembler: new LineAssembler(), partialSince: undefined };
  }
}

function closeOpen(f: Open): void {
  closeSync(f.fd);
  if (f.indexFd !== undefined) closeSync(f.indexFd);
}

/** Adds the index records written since the last look (whole lines only). */
function readNewRecords(f: Open): void {
  if (f.indexFd === undefined) return;
  const size = fstatSync(f.indexFd).size;
  if (size < f.indexPos) f.indexPos = 0;
  if (size === f.indexPos) return;
  const bytes = Buffer.alloc(size - f.indexPos);
  const got = readSync(f.indexFd, bytes, 0, bytes.length, f.indexPos);
  const text = bytes.toString('latin1', 0, got);
  const whole = text.lastIndexOf('\n') + 1;
  f.indexPos += whole;
  f.assembler.addRecords(parseIndex(text.slice(0, whole)));
}

/**
 * Files that rotated away between two looks at a fast-growing log, never seen by the follower.
 * Rotation names them path.1 (newest), path.2, ...: those newer than `seen` (found at its new
 * name) were missed, and are opened oldest first. When `seen` is not among them (deleted, or
 * rotated by another scheme) nothing is taken, rather than old content shown as new.
 */
function rotatedSince(path: string, seen: { dev: number; ino: number }): Open[] {
  const newer: string[] = [];
  for (let k = 1; ; k++) {
    const st = statOrUndefined(`${path}.${k}`);
    if (st === undefined || k > MAX_ROTATED) return [];
    if (st.dev === seen.dev && st.ino === seen.ino) break;
    newer.push(`${path}.${k}`);
  }
  const out: Open[] = [];
  for (const file of newer.reverse()) {
    try {
      const f = openLog(file);
      if (f !== undefined) out.push(f);
    } catch {
      // rotated out of reach meanwhile
    }
  }
  return out;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

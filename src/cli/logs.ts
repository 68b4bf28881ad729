// `bosun logs [name] [-n N] [-f]`: the last lines of each instance's log file, read by the client
// itself (so logs stay readable after the daemon stopped), then followed as `tail -F` does.
// Bytes are passed through as written (no UTF-8 round trip), each line prefixed with its
// instance. Following keeps each file open by descriptor, so a rotation (rename, then a new
// file) loses nothing: the old file is read to its end while the new one is read from its
// start. A line without a newline (a prompt) is shown once it has sat unfinished a moment, and
// programs that `reload` adds are picked up as they appear.

import { once } from 'node:events';
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientHome, permissionDenied, reach } from './client.js';
import { EXIT, Exit, type Common } from './exit.js';
import { request } from './control.js';
import type { LogFileRef } from './daemon.js';
import { paths } from './paths.js';

/** The `bosun logs` command: asks the daemon where the logs are (else looks in <home>/logs), prints, follows. */
export async function logsCommand(name: string | undefined, lines: number, follow: boolean, o: Common): Promise<number> {
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

export interface PrintLogsOptions {
  /** Lines of each log to print first. */
  lines: number;
  /** Keep printing new lines until `signal` aborts. */
  follow: boolean;
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

interface Open {
  fd: number;
  pos: number;
  idle: number;
}

interface Tracked {
  ref: LogFileRef;
  prefix: Buffer;
  current: (Open & { dev: number; ino: number }) | undefined;
  /** Where to start in the file once it appears (its size when following began), else 0. */
  startAt: number;
  /** Files rotated away, still read to their end. */
  old: Open[];
  /** The newest file opened so far: files rotated after it were never seen. */
  lastSeen: { dev: number; ino: number } | undefined;
  partial: Buffer[];
  partialSince: number;
}

/** Prints the last `lines` lines of each log, then (with `follow`) what they get, until `signal` aborts. */
export async function printLogs(refs: LogFileRef[], o: PrintLogsOptions): Promise<void> {
  const buf = Buffer.alloc(256 * 1024);
  const partialMs = o.partialMs ?? 300;
  const tracked = new Map<string, Tracked>();
  const track = (ref: LogFileRef, startAt: number): Tracked => {
    const t: Tracked = { ref, prefix: Buffer.from(`${ref.name}[${ref.instance}] | `), current: undefined, startAt, old: [], lastSeen: undefined, partial: [], partialSince: 0 };
    tracked.set(ref.path, t);
    return t;
  };

  const line = async (t: Tracked, bytes: Buffer) => {
    await o.write(Buffer.concat([t.prefix, ...t.partial, bytes, Buffer.of(NL)]));
    t.partial = [];
  };
  const emit = async (t: Tracked, chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, start)) {
      await line(t, chunk.subarray(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) {
      if (t.partial.length === 0) t.partialSince = Date.now();
      t.partial.push(Buffer.from(chunk.subarray(start)));
    }
  };
  /** Reads `f` from its position to its end; returns the bytes read. */
  const drain = async (t: Tracked, f: Open): Promise<number> => {
    let total = 0;
    for (;;) {
      const got = readSync(f.fd, buf, 0, buf.length, f.pos);
      if (got === 0) return total;
      f.pos += got;
      total += got;
      await emit(t, buf.subarray(0, got));
    }
  };
  const openCurrent = (t: Tracked): boolean => {
    let fd: number;
    try {
      fd = openSync(t.ref.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const st = fstatSync(fd);
    t.current = { fd, pos: Math.min(t.startAt, st.size), idle: 0, dev: st.dev, ino: st.ino };
    t.lastSeen = t.current;
    t.startAt = 0;
    return true;
  };

  // The tail: read through the same descriptor that following goes on with, so no line falls between.
  for (const ref of refs) {
    const t = track(ref, 0);
    if (!openCurrent(t)) continue;
    const size = fstatSync(t.current!.fd).size;
    t.current!.pos = tailStart(t.current!.fd, size, o.lines, buf);
    await drain(t, t.current!);
    if (!o.follow && t.partial.length > 0) await line(t, Buffer.alloc(0));
  }
  if (!o.follow) {
    for (const t of tracked.values()) if (t.current !== undefined) closeSync(t.current.fd);
    return;
  }

  // Sizes now, for files that turn up later as programs added by reload: old content is not news.
  const known = new Map<string, number>();
  const sizeOf = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  for (const ref of (await o.discover?.().catch(() => [])) ?? []) if (!tracked.has(ref.path)) known.set(ref.path, sizeOf(ref.path));
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
        if (st.size < cur.pos) cur.pos = 0; // truncated in place (copytruncate)
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
          closeSync(f.fd);
          t.old.splice(t.old.indexOf(f), 1);
        }
      }
      if (t.current === undefined && st !== undefined) openCurrent(t);
      if (t.current !== undefined) await drain(t, t.current);
      if (t.partial.length > 0 && Date.now() - t.partialSince >= partialMs) await line(t, Buffer.alloc(0));
    }
    try {
      await sleep(o.pollMs ?? 200, undefined, o.signal === undefined ? {} : { signal: o.signal });
    } catch {
      break; // aborted
    }
  }
  for (const t of tracked.values()) {
    for (const f of [...t.old, ...(t.current === undefined ? [] : [t.current])]) closeSync(f.fd);
  }
}

/**
 * Files that rotated away between two looks at a fast-growing log, never seen by the follower.
 * Rotation names them path.1 (newest), path.2, ...: those newer than `seen` (found at its new
 * name) were missed, and are opened oldest first. When `seen` is not among them (deleted, or
 * rotated by another scheme) nothing is taken, rather than old content shown as new.
 */
function rotatedSince(path: string, seen: { dev: number; ino: number }): (Open & { dev: number; ino: number })[] {
  const newer: string[] = [];
  for (let k = 1; ; k++) {
    const st = statOrUndefined(`${path}.${k}`);
    if (st === undefined || k > MAX_ROTATED) return [];
    if (st.dev === seen.dev && st.ino === seen.ino) break;
    newer.push(`${path}.${k}`);
  }
  const out: (Open & { dev: number; ino: number })[] = [];
  for (const file of newer.reverse()) {
    try {
      const fd = openSync(file, 'r');
      const st = fstatSync(fd);
      out.push({ fd, pos: 0, idle: 0, dev: st.dev, ino: st.ino });
    } catch {
      // rotated out of reach meanwhile
    }
  }
  return out;
}

/** The most rotated files a log keeps (logs.keep is at most this). */
const MAX_ROTATED = 1000;

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The offset where the last `n` lines of the first `size` bytes of `fd` begin (reading backwards in blocks). */
function tailStart(fd: number, size: number, n: number, block: Buffer): number {
  if (n === 0) return size;
  // A final newline ends the last line; it does not start another.
  let end = size;
  if (size > 0) {
    readSync(fd, block, 0, 1, size - 1);
    if (block[0] === NL) end = size - 1;
  }
  let pos = end;
  let seen = 0;
  while (pos > 0) {
    const len = Math.min(block.length, pos);
    readSync(fd, block, 0, len, pos - len);
    for (let i = len - 1; i >= 0; i--) {
      if (block[i] === NL && ++seen === n) return pos - len + i + 1;
    }
    pos -= len;
  }
  return 0;
}

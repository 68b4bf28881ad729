// `bosun logs [name] [-n N] [-f] [--raw]`: the last lines of each instance's log, read by the
// client itself (so logs stay readable after the daemon stopped), back across rotated files,
// each with its time and stream from the log's index; then followed across rotations. --raw
// prints the bytes as the program wrote them.

import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { indexPath, LineAssembler, parseIndex, readLastLines, readLastRawLines, type LogLine } from '../process/log-index.js';
import type { LogFileRef } from './daemon.js';

/** Log files found in `<home>/logs` when no daemon can say where they are. */
export function scanLogDir(dir: string): LogFileRef[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
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

interface Followed {
  ref: LogFileRef;
  pos: number;
  assembler: LineAssembler;
  /** How much of the index has been read. */
  indexPos: number;
}

/**
 * Prints new lines of every file as they come, until `signal` aborts; a shrunk file was rotated
 * and is read from its start. The index is read before the bytes it covers (the writer puts a
 * record down before its bytes), so each line gets its time and stream. `raw` prints the bytes
 * as written instead.
 */
export async function follow(files: { ref: LogFileRef; pos: number }[], print: (ref: LogFileRef, line: LogLine) => void, signal: AbortSignal, raw?: (ref: LogFileRef, bytes: Buffer) => void): Promise<void> {
  const buf = Buffer.alloc(256 * 1024);
  const followed: Followed[] = files.map((f) => ({ ref: f.ref, pos: f.pos, assembler: new LineAssembler(), indexPos: 0 }));
  for (const f of followed) readNewRecords(f);
  while (!signal.aborted) {
    for (const f of followed) {
      let size: number;
      try {
        size = statSync(f.ref.path).size;
      } catch {
        continue;
      }
      if (size < f.pos) {
        f.pos = 0;
        f.assembler = new LineAssembler();
        f.indexPos = 0;
      }
      if (size === f.pos) continue;
      readNewRecords(f);
      const fd = openSync(f.ref.path, 'r');
      try {
        while (f.pos < size) {
          const got = readSync(fd, buf, 0, Math.min(buf.length, size - f.pos), f.pos);
          if (got === 0) break;
          const chunk = buf.subarray(0, got);
          if (raw !== undefined) raw(f.ref, Buffer.from(chunk));
          else for (const line of f.assembler.feed(f.pos, chunk)) print(f.ref, line);
          f.pos += got;
        }
      } finally {
        closeSync(fd);
      }
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 200);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}

/** Adds the index records written since the last look (whole lines only). */
function readNewRecords(f: Followed): void {
  let fd: number;
  try {
    fd = openSync(indexPath(f.ref.path), 'r');
  } catch {
    return;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < f.indexPos) f.indexPos = 0;
    if (size === f.indexPos) return;
    const bytes = Buffer.alloc(size - f.indexPos);
    const got = readSync(fd, bytes, 0, bytes.length, f.indexPos);
    const text = bytes.toString('latin1', 0, got);
    const whole = text.lastIndexOf('\n') + 1;
    f.indexPos += whole;
    f.assembler.addRecords(parseIndex(text.slice(0, whole)));
  } finally {
    closeSync(fd);
  }
}

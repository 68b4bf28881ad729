// `bosun logs [name] [-n N] [-f]`: the last lines of each instance's log file, read by the client
// itself (so logs stay readable after the daemon stopped), then followed across rotations.

import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/** The last `n` lines of `path` (reading backwards in blocks, so big files cost little). */
export function lastLines(path: string, n: number): { lines: string[]; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { lines: [], size: 0 };
  }
  try {
    const size = statSync(path).size;
    let pos = size;
    let text = '';
    const block = Buffer.alloc(64 * 1024);
    while (pos > 0 && text.split('\n').length <= n + 1) {
      const len = Math.min(block.length, pos);
      pos -= len;
      readSync(fd, block, 0, len, pos);
      text = block.toString('utf8', 0, len) + text;
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return { lines: n === 0 ? [] : lines.slice(-n), size };
  } finally {
    closeSync(fd);
  }
}

/** Prints new lines of every file as they come, until `signal` aborts; a shrunk file was rotated and is read from its start. */
export async function follow(files: { ref: LogFileRef; pos: number }[], print: (ref: LogFileRef, line: string) => void, signal: AbortSignal): Promise<void> {
  const partial = new Map<string, string>();
  const buf = Buffer.alloc(256 * 1024);
  while (!signal.aborted) {
    for (const f of files) {
      let size: number;
      try {
        size = statSync(f.ref.path).size;
      } catch {
        continue;
      }
      if (size < f.pos) f.pos = 0;
      if (size === f.pos) continue;
      const fd = openSync(f.ref.path, 'r');
      try {
        while (f.pos < size) {
          const got = readSync(fd, buf, 0, Math.min(buf.length, size - f.pos), f.pos);
          if (got === 0) break;
          f.pos += got;
          const text = (partial.get(f.ref.path) ?? '') + buf.toString('utf8', 0, got);
          const lines = text.split('\n');
          partial.set(f.ref.path, lines.pop()!);
          for (const l of lines) print(f.ref, l);
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

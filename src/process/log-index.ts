// Reading a log file with its index (log-file.ts writes both): the raw bytes stay as the
// program wrote them, and `<log>.idx` says from which offset on bytes came when, from which
// stream and which process. Putting the two together gives lines with their time and stream
// again, even where stdout and stderr (or two processes during a rolling restart) interleaved
// in the middle of a line: each (stream, source) is reassembled on its own.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

export type IndexedStream = 'stdout' | 'stderr';

export interface IndexRecord {
  /** Bytes from this offset on (up to the next record) came... */
  offset: number;
  /** ...at this time (ms since the epoch)... */
  time: number;
  /** ...on this stream (undefined: not said)... */
  stream: IndexedStream | undefined;
  /** ...from this process. */
  source: number | undefined;
}

export interface LogLine {
  /** When its first byte was written; undefined for bytes no index record covers. */
  time: number | undefined;
  stream: IndexedStream | undefined;
  source: number | undefined;
  /** The line's bytes, as written, without its newline. */
  bytes: Buffer;
}

/** The index beside a log file (rotated ones too: `web-0.log.1` has `web-0.log.1.idx`). */
export function indexPath(log: string): string {
  return `${log}.idx`;
}

/** Parses index text; lines that do not parse (a record cut short by a crash) are skipped. */
export function parseIndex(text: string): IndexRecord[] {
  const out: IndexRecord[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+) ([oe-]) (\d+|-)$/.exec(line);
    if (m === null) continue;
    out.push({
      offset: Number(m[1]),
      time: Number(m[2]),
      stream: m[3] === 'o' ? 'stdout' : m[3] === 'e' ? 'stderr' : undefined,
      source: m[4] === '-' ? undefined : Number(m[4]),
    });
  }
  return out;
}

const NL = 10;

/**
 * Turns the bytes of one log file, fed in order with their offsets, into lines with their
 * index attributes. Records may be added as the index grows (while following).
 */
export class LineAssembler {
  #records: IndexRecord[] = [];
  readonly #partial = new Map<
    string,
    { time: number | undefined; stream: IndexedStream | undefined; source: number | undefined; bytes: Buffer[] }
  >();

  constructor(records: IndexRecord[] = []) {
    this.addRecords(records);
  }

  addRecords(records: IndexRecord[]): void {
    for (const r of records) {
      const last = this.#records[this.#records.length - 1];
      // An index out of step with its file (an older index left beside a new file) is not trusted past that point.
      if (last !== undefined && r.offset < last.offset) continue;
      this.#records.push(r);
    }
  }

  /** The lines completed by `bytes`, which start at `offset` in the file. */
  feed(offset: number, bytes: Buffer): LogLine[] {
    const out: LogLine[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      const at = offset + pos;
      const i = this.#recordAt(at);
      const rec = i < 0 ? undefined : this.#records[i];
      const next = this.#records[i + 1];
      const end = next === undefined ? bytes.length : Math.min(bytes.length, Math.max(pos + 1, next.offset - offset));
      this.#take(rec, bytes.subarray(pos, end), out);
      pos = end;
    }
    return out;
  }

  /** What is left unfinished, as lines (the end of a file, or a prompt). */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const p of this.#partial.values())
      if (p.bytes.length > 0) out.push({ time: p.time, stream: p.stream, source: p.source, bytes: Buffer.concat(p.bytes) });
    this.#partial.clear();
    return out;
  }

  #take(rec: IndexRecord | undefined, piece: Buffer, out: LogLine[]): void {
    const key = `${rec?.stream ?? '-'} ${rec?.source ?? '-'}`;
    let p = this.#partial.get(key);
    let start = 0;
    for (let nl = piece.indexOf(NL); nl >= 0; nl = piece.indexOf(NL, start)) {
      const head = piece.subarray(start, nl);
      const bytes = p === undefined || p.bytes.length === 0 ? Buffer.from(head) : Buffer.concat([...p.bytes, head]);
      out.push({ time: p !== undefined && p.bytes.length > 0 ? p.time : rec?.time, stream: rec?.stream, source: rec?.source, bytes });
      if (p !== undefined) p.bytes = [];
      start = nl + 1;
    }
    if (start < piece.length) {
      if (p === undefined) {
        p = { time: rec?.time, stream: rec?.stream, source: rec?.source, bytes: [] };
        this.#partial.set(key, p);
      }
      if (p.bytes.length === 0) p.time = rec?.time;
      p.bytes.push(Buffer.from(piece.subarray(start)));
    }
  }

  /** Index of the last record at or before `offset` (-1: none). */
  #recordAt(offset: number): number {
    let lo = 0;
    let hi = this.#records.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#records[mid]!.offset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}

/** The index records of `log`, [] when it has no index. */
export function readIndex(log: string): IndexRecord[] {
  try {
    return parseIndex(readFileSync(indexPath(log), 'latin1'));
  } catch {
    return [];
  }
}

/** The most rotated files a log keeps (logs.keep is at most this). */
const MAX_ROTATED = 1000;

/**
 * The last `n` lines of `log` with their time and stream, reading back across its rotated
 * files (`log.1`, `log.2`, ...) until it has them; `size` is the current file's size when read.
 */
export function readLastLines(log: string, n: number): { lines: LogLine[]; size: number } {
  let size = 0;
  if (n <= 0) return { lines: [], size: sizeOf(log) };
  const lines: LogLine[] = [];
  for (let k = 0; k <= MAX_ROTATED && lines.length < n; k++) {
    const file = k === 0 ? log : `${log}.${k}`;
    if (k > 0 && !existsSync(file)) break;
    const got = linesOfFile(file, n - lines.length);
    if (k === 0) size = got.size;
    lines.unshift(...got.lines);
  }
  return { lines: lines.slice(-n), size };
}

/** The last `n` raw lines (bytes with their newline) of `log` and its rotated files, oldest first. */
export function readLastRawLines(log: string, n: number): { bytes: Buffer; size: number } {
  const parts: Buffer[] = [];
  let got = 0;
  let size = 0;
  for (let k = 0; k <= MAX_ROTATED && got < n; k++) {
    const file = k === 0 ? log : `${log}.${k}`;
    if (k > 0 && !existsSync(file)) break;
    const r = tail(file, n - got);
    if (k === 0) size = r.size;
    got += r.lines;
    parts.unshift(r.bytes);
  }
  return { bytes: Buffer.concat(parts), size };
}

function sizeOf(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

/** The lines of one file from where its last `n` raw lines begin. */
function linesOfFile(file: string, n: number): { lines: LogLine[]; size: number } {
  const t = tail(file, n);
  const a = new LineAssembler(readIndex(file));
  const lines = [...a.feed(t.start, t.bytes), ...a.flush()];
  return { lines: lines.slice(-n), size: t.size };
}

/** The bytes from where the last `n` lines of `file` begin (reading backwards in blocks). */
function tail(file: string, n: number): { bytes: Buffer; start: number; size: number; lines: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { bytes: Buffer.alloc(0), start: 0, size: 0, lines: 0 };
  }
  try {
    const size = fstatSync(fd).size;
    const block = Buffer.alloc(64 * 1024);
    // A final newline ends the last line; it does not start another.
    let end = size;
    if (size > 0) {
      readSync(fd, block, 0, 1, size - 1);
      if (block[0] === NL) end = size - 1;
    }
    let start = 0;
    let seen = size > 0 ? 1 : 0;
    let pos = end;
    outer: while (pos > 0) {
      const len = Math.min(block.length, pos);
      readSync(fd, block, 0, len, pos - len);
      for (let i = len - 1; i >= 0; i--) {
        if (block[i] !== NL) continue;
        if (seen === n) {
          start = pos - len + i + 1;
          break outer;
        }
        seen++;
      }
      pos -= len;
    }
    const bytes = Buffer.alloc(size - start);
    let off = 0;
    while (off < bytes.length) {
      const got = readSync(fd, bytes, off, bytes.length - off, start + off);
      if (got === 0) break;
      off += got;
    }
    return { bytes: bytes.subarray(0, off), start, size, lines: Math.min(seen, n) };
  } finally {
    closeSync(fd);
  }
}

// Captures a child's stdout and stderr line by line into a ring of the last N lines, an optional
// log file and line listeners. Memory stays bounded: a partial line is cut at 64 KiB, and when
// the log file falls behind the stream is paused, so the child blocks on its own writes instead
// of the parent buffering them.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { LogFile } from './log-file.js';

export type StreamName = 'stdout' | 'stderr';
export type LineListener = (stream: StreamName, line: string) => void;

const MAX_PARTIAL = 64 * 1024;

/** The last `size` lines, oldest first. */
export class TailRing {
  readonly #lines: string[];
  #next = 0;
  #count = 0;
  constructor(readonly size: number) {
    this.#lines = new Array<string>(Math.max(0, size));
  }
  push(line: string): void {
    if (this.size <= 0) return;
    this.#lines[this.#next] = line;
    this.#next = (this.#next + 1) % this.size;
    if (this.#count < this.size) this.#count++;
  }
  toArray(): string[] {
    const out: string[] = [];
    const start = (this.#next - this.#count + this.size) % Math.max(1, this.size);
    for (let i = 0; i < this.#count; i++) out.push(this.#lines[(start + i) % this.size]!);
    return out;
  }
}

export interface CaptureOptions {
  ring: TailRing;
  log?: LogFile;
  listeners: Set<LineListener>;
  /** Called on every chunk of output (resets an activity timer). */
  onActivity: () => void;
}

/** Reads `stream` until it ends; resolves then (after flushing a last unterminated line). */
export function captureLines(stream: Readable, name: StreamName, o: CaptureOptions): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const emit = (line: string) => {
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    o.ring.push(line);
    for (const fn of o.listeners) {
      try {
        fn(name, line);
      } catch {
        // a listener's failure must not stop the capture of output
      }
    }
  };
  const take = (text: string) => {
    if (text.length === 0) return;
    o.onActivity();
    let data = partial + text;
    const last = data.lastIndexOf('\n');
    if (last < 0) {
      if (data.length < MAX_PARTIAL) {
        partial = data;
        return;
      }
      data += '\n';
      partial = '';
    } else {
      partial = data.slice(last + 1);
      data = data.slice(0, last + 1);
      if (partial.length >= MAX_PARTIAL) {
        data += partial + '\n';
        partial = '';
      }
    }
    if (o.log !== undefined && !o.log.write(data)) {
      stream.pause();
      o.log.onDrain(() => stream.resume());
    }
    // With nobody listening only the ring needs lines, and only its last `size` of this chunk.
    let start = o.listeners.size === 0 ? lastLinesStart(data, o.ring.size) : 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      emit(data.slice(start, nl));
      start = nl + 1;
    }
  };
  return new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      take(decoder.end());
      if (partial.length > 0) take('\n');
      resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  }).then(() => {
    stream.removeAllListeners('data');
  });
}

/** Index in `text` (which ends with a newline) where its last `n` lines begin. */
function lastLinesStart(text: string, n: number): number {
  let from = text.length - 1;
  for (let i = 0; i < n; i++) {
    const prev = text.lastIndexOf('\n', from - 1);
    if (prev < 0) return 0;
    from = prev;
  }
  return n <= 0 ? text.length : from + 1;
}

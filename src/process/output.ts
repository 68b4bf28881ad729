// Captures one output stream of a child: the bytes go to the log file as they are, byte for byte;
// lines, decoded as UTF-8 for display (bytes that are not UTF-8 become U+FFFD there and only
// there), go to a ring of the last N lines and to line listeners. A line without its newline yet
// (a prompt) is shown once it has waited `partialLineMs`; what follows it starts a new line.
// Memory stays bounded: a line is cut at 64 KiB, and the log file writes synchronously.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { LogFile } from './log-file.js';

export type StreamName = 'stdout' | 'stderr';
export type LineListener = (stream: StreamName, line: string) => void;
/**
 * Gets each chunk's complete lines at once, as one string with a newline after every line
 * (a carriage return before it is left in). For keeping recent output: one call a chunk, and
 * the capture skips cutting lines that nobody else needs, as it does for the ring.
 */
export type BlockListener = (stream: StreamName, lines: string) => void;

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
  blocks?: BlockListener;
  /** Called on every chunk of output (resets an activity timer). */
  onActivity: () => void;
  /** Times the partial-line delay. */
  clock: Clock;
  /** A line without a newline reaches the ring and listeners after this long. Default 200 ms. */
  partialLineMs?: number;
  /** The writing process (its pid), for the log file's index. */
  source?: () => number | undefined;
}

/** One stream's capture: feed it chunks with write(), then end() once no more can come. */
export class OutputCapture {
  readonly #name: StreamName;
  readonly #o: CaptureOptions;
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';
  #partialTimer: TimerHandle | undefined;
  #ended = false;

  constructor(name: StreamName, o: CaptureOptions) {
    this.#name = name;
    this.#o = o;
  }

  write(chunk: Uint8Array): void {
    if (this.#ended || chunk.length === 0) return;
    // The log first: once these bytes are in the file, losing this process loses nothing of them.
    this.#o.log?.write(chunk, { stream: this.#name, source: this.#o.source?.() });
    this.#o.onActivity();
    this.#take(this.#decoder.write(chunk as Buffer));
  }

  /** Flushes what is left (an unterminated last line included); later writes are ignored. */
  end(): void {
    if (this.#ended) return;
    this.#take(this.#decoder.end());
    this.#ended = true;
    this.#partialTimer?.clear();
    if (this.#partial.length > 0) this.#flushPartial();
  }

  #take(text: string): void {
    if (text.length === 0) return;
    let data = this.#partial + text;
    const last = data.lastIndexOf('\n');
    if (last < 0) {
      if (data.length < MAX_PARTIAL) {
        this.#partial = data;
        this.#armPartial();
        return;
      }
      data += '\n';
      this.#partial = '';
    } else {
      this.#partial = data.slice(last + 1);
      data = data.slice(0, last + 1);
      if (this.#partial.length >= MAX_PARTIAL) {
        data += this.#partial + '\n';
        this.#partial = '';
      }
    }
    // A newline completed the waiting partial line: its delay no longer applies.
    this.#partialTimer?.clear();
    this.#partialTimer = undefined;
    this.#block(data);
    // With nobody listening only the ring needs lines, and only its last `size` of this chunk.
    let start = this.#o.listeners.size === 0 ? lastLinesStart(data, this.#o.ring.size) : 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      this.#emit(data.slice(start, nl));
      start = nl + 1;
    }
    if (this.#partial.length > 0) this.#armPartial();
  }

  #armPartial(): void {
    if (this.#partialTimer !== undefined || this.#ended) return;
    this.#partialTimer = this.#o.clock.setTimeout(() => {
      this.#partialTimer = undefined;
      if (this.#partial.length > 0) this.#flushPartial();
    }, this.#o.partialLineMs ?? 200);
  }

  #flushPartial(): void {
    const line = this.#partial;
    this.#partial = '';
    this.#block(`${line}\n`);
    this.#emit(line);
  }

  #block(lines: string): void {
    try {
      this.#o.blocks?.(this.#name, lines);
    } catch {
      // a listener's failure must not stop the capture of output
    }
  }

  #emit(line: string): void {
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    this.#o.ring.push(line);
    for (const fn of this.#o.listeners) {
      try {
        fn(this.#name, line);
      } catch {
        // a listener's failure must not stop the capture of output
      }
    }
  }
}

/** Reads `stream` into a capture until it ends; resolves then (after flushing a last unterminated line). */
export function captureLines(stream: Readable, name: StreamName, o: CaptureOptions): Promise<void> {
  const capture = new OutputCapture(name, o);
  return new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => capture.write(chunk));
    const finish = () => {
      capture.end();
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

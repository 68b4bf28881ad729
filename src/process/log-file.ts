// An append-only log file with size-based rotation that never stops its writer. Bytes are written
// as given (no re-encoding) and synchronously, so what was handed to write() is in the file before
// the caller reads more: a monitor SIGKILLed at any moment loses at most the chunk in hand.
// Rotation: when the next write would push the file past `maxSize`, path -> path.1 -> path.2 ...
// and at most `keep` rotated files remain besides the current one.
//
// A write error (disk full, I/O error, a directory gone) never reaches the writer: it is reported
// (onError, `error`), output is dropped and counted while it lasts, and every `retryMs` the path is
// reopened and a line saying how many bytes were dropped is written; once that works, writing
// resumes (onRecover). reopen() is for logrotate; a file deleted or moved away (nlink 0, or the
// path now names another file) is noticed at most `checkMs` after and reopened by itself, so
// deleting a big log frees its space.
//
// With `index`, when and from where each byte came is kept beside the raw file, in `<path>.idx`
// (rotated with it: `<path>.1.idx`, ...): one line `<offset> <ms since epoch> <o|e> <source>`
// each time a write starts a new millisecond, stream or source (a pid), so readers can show every
// line with its time and stream and split interleaved stdout and stderr back apart (log-index.ts).
// The index is best effort: an error writing it never touches the log.

import { closeSync, constants, fstatSync, lstatSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { LogWriteError } from './errors.js';
import { indexPath, type IndexedStream } from './log-index.js';

export interface LogFileOptions {
  path: string;
  /** Rotate before the file would grow past this many bytes. Default: never rotate. */
  maxSize?: number;
  /** Rotated files kept besides the current one (path.1 is the newest). Default 5. */
  keep?: number;
  /** Permission bits of a file this creates (before the umask). Default 0o666, as `open` does. */
  mode?: number;
  /** Refuse (ELOOP) rather than follow a symbolic link at `path`. Default false. */
  noFollow?: boolean;
  /** After a write error, try again this often. Default 1000 ms. */
  retryMs?: number;
  /** Look at most this often (at a write) whether the file was deleted or moved away. Default 1000 ms. */
  checkMs?: number;
  /** Drives retries and file checks. Default: the system clock. */
  clock?: Clock;
  /** A write error began: output is dropped from now on until it recovers. */
  onError?: (err: LogWriteError) => void;
  /** Writing works again; `droppedBytes` were lost meanwhile (and a line in the file says so). */
  onRecover?: (droppedBytes: number) => void;
  /** Keep `<path>.idx`: the time, stream and source of what each write() brings. Default false. */
  index?: boolean;
}

/** Where a write's bytes come from, for the index. */
export interface WriteOrigin {
  stream: IndexedStream;
  /** The writing process's pid, so a line's pieces are put back together per process. */
  source?: number;
}

export class LogFile {
  readonly path: string;
  readonly #maxSize: number;
  readonly #keep: number;
  readonly #mode: number;
  readonly #flags: number;
  readonly #noFollow: boolean;
  readonly #retryMs: number;
  readonly #checkMs: number;
  readonly #clock: Clock;
  readonly #onError: (err: LogWriteError) => void;
  readonly #onRecover: (droppedBytes: number) => void;
  #fd: number | undefined;
  #size = 0;
  #endsLine = true;
  #checkedAt: number;
  #error: LogWriteError | undefined;
  #dropped = 0;
  #retry: TimerHandle | undefined;
  #closed = false;
  readonly #index: boolean;
  #indexFd: number | undefined;
  /** The last record written to the index: `<ms> <stream> <source>`, with the offset it was at. */
  #lastRecord = '';
  #origin: WriteOrigin | undefined;

  /** `onError` is the same as `options.onError` (kept for callers that pass it second). */
  constructor(options: string | LogFileOptions, onError?: (err: Error) => void) {
    const o = typeof options === 'string' ? { path: options } : options;
    this.path = o.path;
    this.#maxSize = o.maxSize ?? Infinity;
    this.#keep = Math.max(0, o.keep ?? 5);
    this.#mode = o.mode ?? 0o666;
    this.#noFollow = o.noFollow === true;
    this.#flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (this.#noFollow ? constants.O_NOFOLLOW : 0);
    this.#retryMs = o.retryMs ?? 1000;
    this.#checkMs = o.checkMs ?? 1000;
    this.#clock = o.clock ?? systemClock;
    this.#onError = o.onError ?? onError ?? (() => {});
    this.#onRecover = o.onRecover ?? (() => {});
    this.#checkedAt = this.#clock.now();
    this.#index = o.index === true;
  }

  /** The write error going on now; undefined while writes succeed. */
  get error(): LogWriteError | undefined {
    return this.#error;
  }

  /** Bytes dropped since the current error began (0 while writes succeed). */
  get droppedBytes(): number {
    return this.#dropped;
  }

  /**
   * Appends `data` byte for byte (a string as UTF-8). While an error lasts, counts it as dropped.
   * `origin` (stream and source) goes to the index, when there is one.
   */
  write(data: string | Uint8Array, origin?: WriteOrigin): void {
    if (this.#closed) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length === 0) return;
    this.#origin = origin;
    if (this.#error !== undefined) {
      this.#dropped += bytes.length;
      return;
    }
    try {
      this.#checkFile();
      this.#append(bytes);
    } catch (err) {
      this.#fail(err, bytes.length - this.#progress);
    }
  }

  /**
   * Closes the file and opens `path` anew (logrotate's postrotate, a deleted file whose space
   * should be freed). During a write error it is an immediate retry.
   */
  reopen(): void {
    if (this.#closed) return;
    this.#closeFd();
    if (this.#error !== undefined) this.#tryRecover();
  }

  /** Closes the file; later writes are ignored. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#retry?.clear();
    this.#retry = undefined;
    this.#closeFd();
  }

  /** Bytes of the current #append that reached the file (what is left of it is dropped on a throw). */
  #progress = 0;

  /** Writes all of `bytes`, rotating on the way. Throws on an I/O error. */
  #append(bytes: Uint8Array): void {
    this.#progress = 0;
    while (this.#progress < bytes.length) {
      if (this.#fd === undefined) this.#open();
      let piece = bytes.subarray(this.#progress);
      if (this.#size > 0 && this.#size + piece.length > this.#maxSize) this.#rotate();
      const room = this.#maxSize - this.#size;
      if (piece.length > room) {
        // One chunk bigger than a whole file: cut it after the last line that fits (or at maxSize).
        const nl = piece.lastIndexOf(10, Math.max(0, room - 1));
        piece = piece.subarray(0, nl >= 0 ? nl + 1 : Math.max(1, room));
      }
      this.#writeAll(piece);
    }
  }

  #writeAll(piece: Uint8Array): void {
    if (this.#index) this.#record();
    let off = 0;
    while (off < piece.length) {
      const n = writeSync(this.#fd!, piece, off, piece.length - off);
      off += n;
      this.#progress += n;
      this.#size += n;
      this.#endsLine = piece[off - 1] === 10;
    }
  }

  #open(): void {
    const fd = openSync(this.path, this.#flags, this.#mode);
    try {
      this.#size = fstatSync(fd).size;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.#fd = fd;
    this.#checkedAt = this.#clock.now();
    if (this.#index) this.#openIndex();
  }

  /** The index of the file just opened: a new file starts a new index, a file written before goes on with its own. */
  #openIndex(): void {
    this.#closeIndex();
    try {
      const flags =
        constants.O_WRONLY |
        constants.O_CREAT |
        (this.#size === 0 ? constants.O_TRUNC : constants.O_APPEND) |
        (this.#noFollow ? constants.O_NOFOLLOW : 0);
      this.#indexFd = openSync(indexPath(this.path), flags, this.#mode);
    } catch {
      this.#indexFd = undefined;
    }
    this.#lastRecord = '';
  }

  /** A record for the bytes about to be written at #size, unless the last one covers them (same ms, stream and source). */
  #record(): void {
    if (this.#indexFd === undefined) return;
    const o = this.#origin;
    const key = `${Math.floor(this.#clock.now())} ${o === undefined ? '-' : o.stream === 'stdout' ? 'o' : 'e'} ${o?.source ?? '-'}`;
    if (key === this.#lastRecord) return;
    this.#lastRecord = key;
    try {
      writeSync(this.#indexFd, `${this.#size} ${key}\n`);
    } catch {
      this.#closeIndex(); // the log goes on without its index
    }
  }

  #closeIndex(): void {
    const fd = this.#indexFd;
    this.#indexFd = undefined;
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // nothing more to lose
    }
  }

  #closeFd(): void {
    this.#closeIndex();
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // a close error (EIO on NFS) loses nothing more: the next write opens the path anew
    }
  }

  /** At most every checkMs: reopen when our file was deleted or the path now names another file. */
  #checkFile(): void {
    if (this.#fd === undefined || this.#clock.now() - this.#checkedAt < this.#checkMs) return;
    this.#checkedAt = this.#clock.now();
    const ours = fstatSync(this.#fd);
    let moved = ours.nlink === 0;
    if (!moved) {
      try {
        const there = this.#noFollow ? lstatSync(this.path) : statSync(this.path);
        moved = there.ino !== ours.ino || there.dev !== ours.dev;
      } catch {
        moved = true; // the path is gone: the file was moved or deleted
      }
    }
    if (moved) this.#closeFd();
  }

  #rotate(): void {
    this.#closeFd();
    if (this.#keep === 0) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.#keep}`, { force: true });
      for (let i = this.#keep - 1; i >= 1; i--) renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameIfExists(this.path, `${this.path}.1`);
    }
    if (this.#index) {
      const idx = (p: string) => indexPath(p);
      rmSync(idx(`${this.path}.${this.#keep}`), { force: true });
      for (let i = this.#keep - 1; i >= 1; i--) renameIfExists(idx(`${this.path}.${i}`), idx(`${this.path}.${i + 1}`));
      if (this.#keep === 0) rmSync(idx(this.path), { force: true });
      else renameIfExists(idx(this.path), idx(`${this.path}.1`));
    }
    this.#open();
  }

  /** Enters (or, from a failed retry, stays in) the error state and schedules the next retry. */
  #fail(cause: unknown, dropped: number): void {
    this.#dropped += dropped;
    const first = this.#error === undefined;
    this.#closeFd();
    this.#error = new LogWriteError(this.path, cause);
    if (first) {
      try {
        this.#onError(this.#error);
      } catch {
        // a failing listener must not make a write throw
      }
    }
    this.#retry ??= this.#clock.setTimeout(() => {
      this.#retry = undefined;
      this.#tryRecover();
    }, this.#retryMs);
  }

  /** Opens the path anew and writes the dropped-bytes line; on success writing resumes. */
  #tryRecover(): void {
    if (this.#closed || this.#error === undefined) return;
    this.#retry?.clear();
    this.#retry = undefined;
    const dropped = this.#dropped;
    const line = `${this.#endsLine ? '' : '\n'}[bosun] ${dropped} bytes of output were dropped: ${errorText(this.#error.cause)}\n`;
    this.#closeFd();
    try {
      this.#append(Buffer.from(line, 'utf8'));
    } catch (err) {
      // Still failing: keep counting. A line cut short by the same error is followed by a whole one.
      this.#fail(err, 0);
      return;
    }
    this.#error = undefined;
    this.#dropped = 0;
    try {
      this.#onRecover(dropped);
    } catch {
      // as for onError
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

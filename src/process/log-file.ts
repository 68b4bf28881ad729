// An append-only log file with size-based rotation and bounded memory. write() returns false
// once more than `highWaterBytes` wait to be written, and onDrain() says when to write again,
// so a caller that pauses its source (a child's stdout) never holds more than that in memory.
// Rotation: when the next write would push the file past `maxSize`, path -> path.1 -> path.2 ...
// and at most `keep` rotated files remain besides the current one.

import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

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
}

const HIGH_WATER = 256 * 1024;
const MAX_BATCH = 1 << 20;

export class LogFile {
  readonly path: string;
  readonly #maxSize: number;
  readonly #keep: number;
  readonly #mode: number;
  readonly #flags: number;
  #queue: Buffer[] = [];
  #queued = 0;
  #fh: FileHandle | undefined;
  #size = 0;
  #pumping: Promise<void> | undefined;
  #drainWaiters: (() => void)[] = [];
  #error: Error | undefined;
  #onError: (err: Error) => void;

  constructor(options: string | LogFileOptions, onError: (err: Error) => void = () => {}) {
    const o = typeof options === 'string' ? { path: options } : options;
    this.path = o.path;
    this.#maxSize = o.maxSize ?? Infinity;
    this.#keep = Math.max(0, o.keep ?? 5);
    this.#mode = o.mode ?? 0o666;
    this.#flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (o.noFollow === true ? constants.O_NOFOLLOW : 0);
    this.#onError = onError;
  }

  /** Queues `text`; false means "pause your source until onDrain". After an I/O error writes are dropped. */
  write(text: string): boolean {
    if (this.#error !== undefined) return true;
    const buf = Buffer.from(text, 'utf8');
    this.#queue.push(buf);
    this.#queued += buf.length;
    this.#pumping ??= this.#pump();
    return this.#queued < HIGH_WATER;
  }

  /** Calls `fn` once the queue is below the high-water mark (at once if it already is). */
  onDrain(fn: () => void): void {
    if (this.#queued < HIGH_WATER || this.#error !== undefined) fn();
    else this.#drainWaiters.push(fn);
  }

  /** Writes everything queued and closes the file. */
  async close(): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping;
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh !== undefined) await fh.close().catch(() => {});
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#error === undefined) {
        if (this.#fh === undefined) await this.#open();
        if (this.#size > 0 && this.#size + this.#queue[0]!.length > this.#maxSize) await this.#rotate();
        // Coalesce queued chunks into one write, as long as they fit before the next rotation.
        const room = this.#maxSize - this.#size;
        const batch: Buffer[] = [];
        let len = 0;
        while (this.#queue.length > 0 && len < MAX_BATCH && len + this.#queue[0]!.length <= room) {
          const b = this.#queue.shift()!;
          batch.push(b);
          len += b.length;
        }
        let data: Buffer;
        if (batch.length === 0) {
          // One chunk bigger than a whole file: cut it after the last line that fits (or at maxSize).
          const head = this.#queue[0]!;
          const nl = head.lastIndexOf(10, Math.max(0, room - 1));
          const cut = nl >= 0 ? nl + 1 : Math.max(1, room);
          data = head.subarray(0, cut);
          this.#queue[0] = head.subarray(cut);
        } else {
          data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, len);
        }
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await this.#fh!.write(data, off, data.length - off);
          off += bytesWritten;
        }
        this.#size += data.length;
        this.#queued -= data.length;
        if (this.#queued < HIGH_WATER) this.#wakeDrain();
      }
    } catch (err) {
      this.#error = err instanceof Error ? err : new Error(String(err));
      this.#queue = [];
      this.#queued = 0;
      this.#wakeDrain();
      this.#onError(this.#error);
    } finally {
      this.#pumping = undefined;
    }
    if (this.#queue.length > 0 && this.#error === undefined) this.#pumping = this.#pump();
  }

  async #open(): Promise<void> {
    this.#fh = await open(this.path, this.#flags, this.#mode);
    this.#size = (await this.#fh.stat()).size;
  }

  async #rotate(): Promise<void> {
    await this.#fh!.close();
    this.#fh = undefined;
    if (this.#keep === 0) {
      await rm(this.path, { force: true });
    } else {
      await rm(`${this.path}.${this.#keep}`, { force: true });
      for (let i = this.#keep - 1; i >= 1; i--) await renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      await renameIfExists(this.path, `${this.path}.1`);
    }
    await this.#open();
  }

  #wakeDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const fn of waiters) fn();
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

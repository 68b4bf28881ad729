// Named pipes (FIFOs) as a child's stdout and stderr, so its output outlives its monitor. The
// child gets an fd opened read-write on each FIFO: holding a reader itself, it never gets
// EPIPE/SIGPIPE when the monitor dies, and once the pipe buffer (64 KiB on Linux) is full its
// writes block instead of losing output. The monitor reads through its own non-blocking
// read-write fd, so it never sees end-of-file between runs, and a new monitor opening the same
// paths reads what was written meanwhile. With no end-of-file, the end of output is known by a
// drain: read until the pipe is empty (EAGAIN) once the writer is known to have exited.
//
// Two monitors must not read one pipe at once: each would get part of the output.

import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { OutputPipeError } from './errors.js';

/** Paths of the named pipes a child's stdout and stderr go through (see MonitorOptions.outputPipes). */
export interface OutputPipePaths {
  stdout: string;
  stderr: string;
}

/**
 * Creates, mode 0600, every path of `paths` that does not exist yet, as a named pipe, in one
 * `mkfifo` run (Node has no mkfifo of its own). Throws OutputPipeError if a path exists and is
 * not a named pipe, or mkfifo fails.
 */
export function makeFifos(paths: readonly string[]): void {
  const missing = paths.filter((p) => !isFifo(p));
  if (missing.length === 0) return;
  try {
    execFileSync('mkfifo', ['-m', '600', '--', ...missing], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // Another maker may have won the race: what counts is that every path is a FIFO now.
    const still = missing.find((p) => !isFifo(p));
    if (still === undefined) return;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new OutputPipeError(still, `cannot create it with mkfifo: ${stderr || (err as Error).message}`, { cause: err });
  }
}

/** True when `path` is a FIFO; false when it is missing; throws when it is anything else. */
function isFifo(path: string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new OutputPipeError(path, `cannot inspect it: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isFIFO()) throw new OutputPipeError(path, 'exists and is not a named pipe; remove it or choose another path');
  return true;
}

/** Opens `path` (which must be a FIFO, not through a symlink) with `flags`. */
function openFifo(path: string, flags: number): number {
  let fd: number;
  try {
    fd = openSync(path, flags | constants.O_NOFOLLOW);
  } catch (err) {
    throw new OutputPipeError(path, `cannot open it: ${(err as Error).message}`, { cause: err });
  }
  if (!fstatSync(fd).isFIFO()) {
    closeSync(fd);
    throw new OutputPipeError(path, 'is not a named pipe; remove it or choose another path');
  }
  return fd;
}

const DRAIN_CAP = 16 << 20;

/** The monitor's end of one output pipe. */
export class OutputPipeReader {
  readonly path: string;
  readonly #fd: number;
  readonly #socket: Socket;
  readonly #onChunk: (chunk: Buffer) => void;
  #closed = false;

  /** Opens the reading end; `onChunk` gets every chunk read, in order. */
  constructor(path: string, onChunk: (chunk: Buffer) => void) {
    this.path = path;
    // Read-write: with a writer of our own the pipe never reports end-of-file, whoever exits.
    this.#fd = openFifo(path, constants.O_RDWR | constants.O_NONBLOCK);
    this.#onChunk = onChunk;
    this.#socket = new Socket({ fd: this.#fd, readable: true, writable: false });
    this.#socket.on('data', onChunk);
    this.#socket.on('error', () => {}); // a read error ends nothing: the process's exit does
  }

  /** A new fd for the child's end (read-write, blocking); the caller closes it once spawned. */
  openChildEnd(): number {
    return openFifo(this.path, constants.O_RDWR);
  }

  /**
   * Reads what is in the pipe now, to the last byte (up to 16 MiB, in case an escaped descendant
   * keeps writing), after letting already-read chunks be delivered. Call once the writer exited.
   */
  async drain(): Promise<void> {
    // A chunk the stream already holds is delivered first, so order is kept.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#closed) return;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (let total = 0; total < DRAIN_CAP;) {
      let n: number;
      try {
        n = readSync(this.#fd, buf, 0, buf.length, null);
      } catch {
        return; // EAGAIN: the pipe is empty
      }
      if (n === 0) return;
      total += n;
      this.#onChunk(Buffer.from(buf.subarray(0, n)));
    }
  }

  /** Closes the monitor's end (the pipe and what is in it live on while the child holds its end). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
  }
}

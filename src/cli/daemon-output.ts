// Where the daemon's own lines go (lifecycle events, its error messages): stdout/stderr for
// `bosun run`, a rotating <home>/daemon.log for the detached daemon. No write here can stop the
// daemon: a full disk (ENOSPC), a closed pipe (`bosun run | head`, EPIPE) or a reader that does
// not keep up drops lines, counts them, and says so in the next line that gets through, so the
// output recovers by itself once the cause is gone. process.stdout cannot promise that: after
// one error the stream is destroyed for good, and unhandled it takes the process down.

import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync, constants } from 'node:fs';

/** A destination that has failed and not yet recovered. */
export interface OutputProblem {
  /** 'stdout', 'stderr' or the file's path. */
  target: string;
  /** The last error, e.g. "ENOSPC: no space left on device, write". */
  error: string;
  /** Lines dropped since the first error. */
  lost: number;
}

interface Sink {
  readonly name: string;
  write(line: string): void;
  reopen(): void;
  close(): void;
  problem(): OutputProblem | undefined;
}

/** The daemon's output: `line` for lifecycle lines, `error` for its messages about itself. */
export class DaemonOutput {
  readonly #out: Sink;
  readonly #err: Sink;

  private constructor(out: Sink, err: Sink) {
    this.#out = out;
    this.#err = err;
  }

  /** `bosun run`: lines to stdout, errors to stderr, each as the descriptor allows (a file, a pipe, a terminal). */
  static foreground(): DaemonOutput {
    return new DaemonOutput(stdioSink(1, 'stdout'), stdioSink(2, 'stderr'));
  }

  /** The detached daemon: lines and errors to `path`, rotated past `maxSize` into path.1 .. path.<keep>. */
  static file(path: string, options: { maxSize?: number; keep?: number } = {}): DaemonOutput {
    const sink = new FileSink(path, options.maxSize ?? DAEMON_LOG_MAX_SIZE, options.keep ?? DAEMON_LOG_KEEP);
    return new DaemonOutput(sink, sink);
  }

  readonly line = (text: string): void => this.#out.write(`${text}\n`);
  readonly error = (text: string): void => this.#err.write(`${text}\n`);

  /** Reopens a log file by its path (after logrotate moved it); a no-op for stdio. */
  reopen(): void {
    this.#out.reopen();
    if (this.#err !== this.#out) this.#err.reopen();
  }

  /** Destinations failing right now, for status. */
  problems(): OutputProblem[] {
    const sinks = this.#err === this.#out ? [this.#out] : [this.#out, this.#err];
    return sinks.flatMap((s) => s.problem() ?? []);
  }

  close(): void {
    this.#out.close();
    if (this.#err !== this.#out) this.#err.close();
  }
}

export const DAEMON_LOG_MAX_SIZE = 10 * 2 ** 20;
export const DAEMON_LOG_KEEP = 5;
/** Output held for a slow pipe or terminal before lines are dropped; the daemon's memory is not the reader's buffer. */
const STREAM_BACKLOG = 1 << 20;

/** Counts lines lost since the last error, for the notice written once writing works again. */
class Losses {
  error: Error | undefined;
  lost = 0;
  /** A write failed halfway through a line: the notice starts on a line of its own. */
  midLine = false;

  /** `err` cost a line (`partial`: some of it was written). */
  record(err: Error, partial: boolean): void {
    this.note(err);
    this.lost++;
    this.midLine ||= partial;
  }

  /** `err` happened but cost no line (a failed reopen or rotation). */
  note(err: Error): void {
    this.error = err;
  }

  /** The notice to write before the next line, '' when nothing went wrong. */
  notice(name: string): string {
    if (this.error === undefined) return '';
    const lost = this.lost === 0 ? 'no line was lost' : `${this.lost} line${this.lost === 1 ? '' : 's'} could not be written`;
    return `${this.midLine ? '\n' : ''}bosun: ${name}: ${this.error.message}; ${lost}; writing again\n`;
  }

  /** The notice got out. */
  clear(): void {
    this.error = undefined;
    this.lost = 0;
    this.midLine = false;
  }

  problem(name: string): OutputProblem | undefined {
    return this.error === undefined ? undefined : { target: name, error: this.error.message, lost: this.lost };
  }
}

/** Writes all of `text` to `fd`; throws with `partial` set when some of it got out before the error. */
function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } catch (err) {
    (err as { partial?: boolean }).partial = off > 0;
    throw err;
  }
}

/** fd 1 or 2: a file or /dev/null is written directly (an error costs the line, not the descriptor); pipes and terminals go through node's stream. */
function stdioSink(fd: 1 | 2, name: string): Sink {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    return new ClosedSink(name);
  }
  if (st.isFile() || (st.isCharacterDevice() && !process[name === 'stdout' ? 'stdout' : 'stderr'].isTTY)) return new FdSink(fd, name);
  return new StreamSink(name === 'stdout' ? process.stdout : process.stderr, name);
}

class ClosedSink implements Sink {
  constructor(readonly name: string) {}
  write(): void {}
  reopen(): void {}
  close(): void {}
  problem(): undefined {
    return undefined;
  }
}

class FdSink implements Sink {
  readonly #losses = new Losses();
  constructor(
    readonly fd: number,
    readonly name: string,
  ) {}

  write(line: string): void {
    try {
      writeAll(this.fd, this.#losses.notice(this.name) + line);
      this.#losses.clear();
    } catch (err) {
      this.#losses.record(err as Error, (err as { partial?: boolean }).partial === true);
    }
  }
  reopen(): void {}
  close(): void {}
  problem(): OutputProblem | undefined {
    return this.#losses.problem(this.name);
  }
}

/**
 * A pipe or terminal through node's stream, which writes without blocking the daemon. A closed
 * reader (EPIPE) ends writing for good: nobody is there to read. A slow one makes the stream
 * buffer; past STREAM_BACKLOG lines are dropped and counted until it drains.
 */
class StreamSink implements Sink {
  readonly #losses = new Losses();
  #closed: Error | undefined;

  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly name: string,
  ) {
    stream.on('error', (err) => (this.#closed = err));
  }

  write(line: string): void {
    if (this.#closed !== undefined || this.stream.destroyed) {
      this.#losses.record(this.#closed ?? new Error(`${this.name} is closed`), false);
      return;
    }
    if (this.stream.writableLength > STREAM_BACKLOG) {
      this.#losses.record(new Error(`${this.name} is not read fast enough`), false);
      return;
    }
    // A line the stream takes may still fail once written out (the reader went): it is lost too.
    this.stream.write(this.#losses.notice(this.name) + line, (err) => {
      if (err) this.#losses.record(this.#closed ?? err, false);
    });
    this.#losses.clear();
  }
  reopen(): void {}
  close(): void {}
  problem(): OutputProblem | undefined {
    return this.#closed === undefined
      ? this.#losses.problem(this.name)
      : { target: this.name, error: this.#closed.message, lost: this.#losses.lost };
  }
}

/**
 * <home>/daemon.log, written synchronously: a daemon line is rare and short, and must be on disk
 * before an exit that may follow it. Rotated like program logs; reopened by path on request
 * (logrotate's create mode) or after any error, so a file deleted or replaced meanwhile is
 * recreated at the next line.
 */
class FileSink implements Sink {
  readonly #losses = new Losses();
  #fd: number | undefined;

  constructor(
    readonly name: string,
    readonly maxSize: number,
    readonly keep: number,
  ) {}

  write(line: string): void {
    try {
      const size = fstatSync(this.#open()).size;
      if (size > 0 && size + Buffer.byteLength(this.#losses.notice(this.name) + line) > this.maxSize) this.#rotate();
      writeAll(this.#open(), this.#losses.notice(this.name) + line);
      this.#losses.clear();
    } catch (err) {
      this.#losses.record(err as Error, (err as { partial?: boolean }).partial === true);
      // Open afresh next time: the file may be gone, or the disk may have been replaced.
      this.close();
    }
  }

  reopen(): void {
    this.close();
    try {
      this.#open();
    } catch (err) {
      this.#losses.note(err as Error);
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // closing can report a delayed write error; the next write reports its own
    }
    this.#fd = undefined;
  }

  problem(): OutputProblem | undefined {
    return this.#losses.problem(this.name);
  }

  #open(): number {
    // Not through a symbolic link: files in home are the daemon's own (DESIGN).
    this.#fd ??= openSync(this.name, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    return this.#fd;
  }

  /** A rotation that fails (a rename refused) is reported and writing goes on in the current file. */
  #rotate(): void {
    this.close();
    try {
      if (this.keep === 0) rmSync(this.name, { force: true });
      else {
        rmSync(`${this.name}.${this.keep}`, { force: true });
        for (let i = this.keep - 1; i >= 1; i--) renameIfExists(`${this.name}.${i}`, `${this.name}.${i + 1}`);
        renameIfExists(this.name, `${this.name}.1`);
      }
    } catch (err) {
      this.#losses.note(err as Error);
    }
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

// What a fleet leaves in its home so that the next daemon can adopt its programs: one entry
// per running instance (pid, /proc start time, which named pipes carry its output, whether it
// was ready, what it was started as). Written whole, to a temporary file renamed over the old
// one, so a daemon killed at any moment leaves a file that is either the old state or the new
// one. The changes of one turn of the event loop (a start of 20 programs, a stop) go in one
// write at the end of the turn: a rename costs milliseconds on a busy disk. A run started in a
// turn the daemon did not live to finish is found by its environment instead (leftovers.ts).
// A write that fails (a full disk) is reported and retried at the next change; it never stops
// the fleet.

import { closeSync, constants, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface InstanceEntry {
  program: string;
  index: number;
  pid: number;
  startTime: number;
  /** Which pair of named pipes (`a` or `b`) the instance writes to. */
  slot: 'a' | 'b';
  ready: boolean;
  /** What it was started as (argv, cwd, env of the config): a changed program is not adopted. */
  fingerprint: string;
  restarts: number;
}

interface StateFile {
  version: 1;
  instances: InstanceEntry[];
}

export class FleetState {
  readonly dir: string;
  readonly #file: string;
  readonly #entries = new Map<string, InstanceEntry>();
  /** The last write error, until a write succeeds. */
  error: Error | undefined;
  readonly #onError: (err: Error) => void;
  #due = false;

  /** `onError` hears the first failed write of a run of them. */
  constructor(home: string, onError: (err: Error) => void = () => {}) {
    this.#onError = onError;
    this.dir = join(home, 'run');
    this.#file = join(this.dir, 'instances.json');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** The entries the previous daemon left (empty when none, or when the file is unreadable). */
  read(): InstanceEntry[] {
    let parsed: Partial<StateFile>;
    try {
      parsed = JSON.parse(readFileSync(this.#file, 'utf8')) as Partial<StateFile>;
    } catch {
      return [];
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.instances)) return [];
    return parsed.instances.filter(
      (e): e is InstanceEntry =>
        typeof e?.program === 'string' &&
        Number.isInteger(e.index) &&
        Number.isInteger(e.pid) &&
        e.pid > 0 &&
        Number.isInteger(e.startTime) &&
        (e.slot === 'a' || e.slot === 'b'),
    );
  }

  /** The named pipes of `program[index]` in `slot`. */
  pipes(program: string, index: number, slot: 'a' | 'b'): { stdout: string; stderr: string } {
    const base = join(this.dir, `${program}.${index}.${slot}`);
    return { stdout: `${base}.out`, stderr: `${base}.err` };
  }

  /** One entry per instance and slot: a rolling restart's replacement (the other slot) is kept beside the run it replaces. */
  set(entry: InstanceEntry): void {
    const key = `${entry.program}[${entry.index}].${entry.slot}`;
    const known = this.#entries.get(key);
    // What the file already says needs no write (a ready mark for what was recorded ready).
    if (known !== undefined && this.error === undefined && JSON.stringify(known) === JSON.stringify(entry)) return;
    this.#entries.set(key, entry);
    this.#writeSoon();
  }

  /** Forgets the run of `program[index]` with this pid (a newer run may have taken its place). */
  delete(program: string, index: number, pid: number): void {
    let found = false;
    for (const [key, e] of this.#entries) {
      if (e.program !== program || e.index !== index || e.pid !== pid) continue;
      this.#entries.delete(key);
      found = true;
    }
    if (found) this.#writeSoon();
  }

  /** Writes now what is due to be written (the fleet stops: no later turn may come). */
  flush(): void {
    if (!this.#due) return;
    this.#due = false;
    this.#write();
  }

  #writeSoon(): void {
    if (this.#due) return;
    this.#due = true;
    setImmediate(() => this.flush());
  }

  #write(): void {
    const body = `${JSON.stringify({ version: 1, instances: [...this.#entries.values()] } satisfies StateFile)}\n`;
    const tmp = `${this.#file}.tmp`;
    try {
      rmSync(tmp, { force: true });
      // O_EXCL|O_NOFOLLOW: never written through a link someone left in the home.
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      // No fsync: the file must survive the daemon's death, not the machine's (its programs would not).
      try {
        writeSync(fd, body);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.#file);
      this.error = undefined;
    } catch (err) {
      if (this.error === undefined) this.#onError(err as Error);
      this.error = err as Error;
      try {
        rmSync(tmp, { force: true });
      } catch {
        // what stopped the write stops the clean-up too; the next write tries both again
      }
    }
  }
}

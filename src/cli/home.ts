// The daemon's home and the files it writes: a home that someone else could change under the
// daemon is refused, and no file is ever opened through a symbolic link. Otherwise a home in a
// shared folder is a trap: a `bosun.pid` link makes the daemon overwrite any file it can write,
// a `token` link hands the token to whoever owns the target, a log link or a pre-created log
// file collects the programs' output for someone else.
//
// The rules, checked on the real path (symbolic links resolved once, then never followed):
// home is a directory owned by the daemon's user and writable by no one else (created 0700);
// every folder above it belongs to root or that user, and one that others may write to has the
// sticky bit (as /tmp has), so nobody else can rename the home away. Files in home are created
// with O_CREAT|O_EXCL|O_NOFOLLOW after removing what was there (a link is removed, never its
// target), or, for logs that grow across starts, appended with O_NOFOLLOW.

import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BosunError } from '../core/errors.js';
import { PROGRAM_LOG_MODE } from '../fleet/log-files.js';

/** The home, a folder above it or a file in it is unsafe to use; the message names the path and the fix. */
export class HomeError extends BosunError {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_HOME', message, options);
  }
}

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW } = constants;
/** The sticky bit: in such a folder only an entry's owner may rename or remove it. */
const S_ISVTX = 0o1000;

function uid(): number {
  return process.getuid?.() ?? 0;
}

/** `name (uid N)` from /etc/passwd, or `uid N` when it is not there. */
function who(id: number): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(id));
    if (line !== undefined) return `${line.split(':')[0]} (uid ${id})`;
  } catch {
    // no passwd file: the number alone
  }
  return `uid ${id}`;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/**
 * The folders the daemon keeps inside its home: program logs, and the fleet's state and output
 * pipes (`run/`, named in src/fleet/state.ts). Each must be a real directory of the daemon's
 * user, or files created in it with O_NOFOLLOW would still land wherever a link points.
 */
const SUBDIRS = ['logs', 'run'];

/**
 * Creates `home` (0700) if missing, checks it and the folders above it, and creates and checks
 * `logs/` and `run/` inside. Returns the real path, which the daemon uses from then on. Throws
 * HomeError.
 */
export function openHome(home: string, subdirs: readonly string[] = SUBDIRS): string {
  const wanted = resolve(home);
  let created = false;
  try {
    mkdirSync(dirname(wanted), { recursive: true });
    mkdirSync(wanted, { mode: 0o700 });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new HomeError(wanted, `bosun: cannot create home ${wanted}: ${(err as Error).message}`, { cause: err });
  }
  const real = realpathSync(wanted);
  const me = uid();
  // Folders above: only root or the daemon's user may rename the home away.
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const st = lstatSync(dir);
    if (st.uid !== 0 && st.uid !== me) {
      throw new HomeError(
        real,
        `bosun: home ${real} is inside ${dir}, which belongs to ${who(st.uid)}, who could replace the home; put the home in a folder of your own (--home DIR, or home: in the config)`,
      );
    }
    if ((st.mode & 0o002) !== 0 && (st.mode & S_ISVTX) === 0) {
      throw new HomeError(
        real,
        `bosun: home ${real} is inside ${dir} (mode ${octal(st.mode)}), which every user can write to without the sticky bit, so anyone could replace the home; put the home in a folder of your own (--home DIR, or home: in the config)`,
      );
    }
    if (dir === dirname(dir)) break;
  }
  const st = lstatSync(real);
  checkOwnDir(real, st, 'home');
  if (created && (st.mode & 0o777) !== 0o700) {
    // The umask took more than group and others' bits; the daemon needs its own.
    const fd = openSync(real, O_RDONLY | O_NOFOLLOW);
    try {
      fchmodSync(fd, 0o700);
    } finally {
      closeSync(fd);
    }
  }
  for (const sub of subdirs) {
    const path = `${real}/${sub}`;
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new HomeError(path, `bosun: cannot create ${path}: ${(err as Error).message}`, { cause: err });
    }
    checkOwnDir(path, lstatSync(path), 'folder');
  }
  return real;
}

function checkOwnDir(path: string, st: Stats, what: 'home' | 'folder'): void {
  const me = uid();
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new HomeError(
      path,
      `bosun: ${what} ${path} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; bosun follows no links inside its home: remove it (bosun creates it) or choose another home`,
    );
  }
  if (st.uid !== me) {
    throw new HomeError(
      path,
      `bosun: ${what} ${path} belongs to ${who(st.uid)}, not to ${who(me)}, who runs the daemon; run the daemon as its owner, or give it a home of its own (--home DIR, or home: in the config)`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    const by = (st.mode & 0o002) !== 0 ? 'every user' : 'its group';
    throw new HomeError(
      path,
      `bosun: ${what} ${path} is writable by ${by} (mode ${octal(st.mode)}), who could replace the daemon's files; \`chmod go-w ${path}\` (bosun creates it 0700) or choose another home`,
    );
  }
}

/**
 * Writes `content` to a new file at `path` (mode `mode`): whatever was there is removed first
 * (a link, not its target) and the file is created with O_EXCL|O_NOFOLLOW, so the content lands
 * in a file of the daemon's and nowhere else.
 */
export function writeHomeFile(path: string, content: string, mode = 0o600): void {
  let fd: number;
  try {
    rmSync(path, { force: true });
    fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  } catch (err) {
    throw new HomeError(path, `bosun: cannot create ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const buf = Buffer.from(content);
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
  } finally {
    closeSync(fd);
  }
}

/** The content of `path`, or undefined when it is missing, a link or unreadable. */
export function readHomeFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(4096);
    for (let n; (n = readSync(fd, buf)) > 0;) chunks.push(Buffer.from(buf.subarray(0, n)));
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Opens `path` for appending (created with `mode`) without following a link; returns the descriptor. */
export function appendHomeFile(path: string, mode = 0o600): number {
  try {
    return openSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, mode);
  } catch (err) {
    const link = (err as NodeJS.ErrnoException).code === 'ELOOP';
    throw new HomeError(
      path,
      link
        ? `bosun: ${path} is a symbolic link; bosun follows no links for the files it writes: remove it`
        : `bosun: cannot open ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Checks, before any program starts, that each log file can be written safely: its folder is a
 * directory no other user can write to (else they could put a file of theirs there first), the
 * file is not a link and belongs to the daemon's user. Existing logs and their rotated copies
 * (`.1` to `.keep`) are set to PROGRAM_LOG_MODE. Throws HomeError naming the path and the fix.
 */
export function checkLogFiles(logs: readonly { path: string; keep: number }[]): void {
  const me = uid();
  for (const { path, keep } of logs) {
    const dir = dirname(path);
    let d: Stats;
    try {
      d = lstatSync(realpathSync(dir));
    } catch (err) {
      throw new HomeError(
        path,
        `bosun: the folder of log file ${path} does not exist (${(err as NodeJS.ErrnoException).code}); create it or change logs.file`,
        { cause: err },
      );
    }
    if (!d.isDirectory()) throw new HomeError(path, `bosun: the folder of log file ${path} is not a directory; change logs.file`);
    if ((d.mode & 0o002) !== 0 || (d.uid !== me && d.uid !== 0)) {
      throw new HomeError(
        path,
        `bosun: log file ${path} is in ${dir}, which ${(d.mode & 0o002) !== 0 ? 'every user can write to' : `belongs to ${who(d.uid)}`}: another user could put a file or link of theirs there first; put logs.file in a folder only you can write`,
      );
    }
    for (let i = 0; i <= keep; i++) tightenLog(i === 0 ? path : `${path}.${i}`, i === 0, me);
  }
}

function tightenLog(path: string, current: boolean, me: number): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  // A link among the rotated copies is harmless (rotation renames and removes links, never
  // follows them); at the current log it is refused rather than silently dropped output.
  if (st.isSymbolicLink()) {
    if (!current) return;
    throw new HomeError(
      path,
      `bosun: log file ${path} is a symbolic link; bosun follows no links for the files it writes: remove it (bosun creates the file) or point logs.file at the file itself`,
    );
  }
  if (!st.isFile()) throw new HomeError(path, `bosun: log file ${path} is not a regular file; remove it or change logs.file`);
  if (st.uid !== me)
    throw new HomeError(
      path,
      `bosun: log file ${path} belongs to ${who(st.uid)}, who could read what the programs print; remove it (bosun creates it ${octal(PROGRAM_LOG_MODE)})`,
    );
  if ((st.mode & 0o777) === PROGRAM_LOG_MODE) return;
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  try {
    if (fstatSync(fd).ino === st.ino) fchmodSync(fd, PROGRAM_LOG_MODE);
  } finally {
    closeSync(fd);
  }
}

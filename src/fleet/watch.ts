// watch: calls `onChange` once file changes under the watched paths have stopped for
// `debounceMs` (a save, a `git checkout`, a build: one restart, not one per file). Folders are
// watched one by one with fs.watch (inotify on Linux), so ignored folders such as node_modules
// cost no watch at all, and folders created later are watched as they appear. The debounce
// runs on the fleet's Clock, so a TestClock decides when a change restarts.

import { watch as fsWatch, readdirSync, statSync, type FSWatcher } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.js';

export interface FileWatchOptions {
  /** Absolute files or folders (folders recursively). */
  paths: readonly string[];
  /** True for an absolute path that is not watched (see ignoreMatcher). */
  ignored: (path: string) => boolean;
  debounceMs: number;
  clock: Clock;
  /** Called once per burst of changes, with the last path that changed. */
  onChange: (path: string) => void;
}

/** Folders that are never watched, whatever the config says. */
export const ALWAYS_IGNORED = ['node_modules', '.git'];

export class FileWatch {
  readonly #o: FileWatchOptions;
  readonly #watchers = new Map<string, FSWatcher>();
  #timer: TimerHandle | undefined;
  #last = '';
  #stopped = false;

  constructor(options: FileWatchOptions) {
    this.#o = options;
    for (const p of options.paths) this.#add(p);
  }

  /** How many files and folders are being watched. */
  get size(): number {
    return this.#watchers.size;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.clear();
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  #add(path: string): void {
    if (this.#stopped || this.#watchers.has(path) || this.#o.ignored(path)) return;
    let dir: boolean;
    try {
      dir = statSync(path).isDirectory();
    } catch {
      return; // gone (or never there): nothing to watch
    }
    let w: FSWatcher;
    try {
      w = fsWatch(path, { persistent: false }, (_event, name) => this.#event(dir && name !== null ? join(path, name.toString()) : path));
    } catch {
      return; // out of inotify watches, or no permission: the rest is still watched
    }
    w.on('error', () => this.#drop(path));
    this.#watchers.set(path, w);
    if (!dir) return;
    let entries;
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) this.#add(join(path, e.name));
  }

  #drop(path: string): void {
    this.#watchers.get(path)?.close();
    this.#watchers.delete(path);
  }

  #event(path: string): void {
    if (this.#stopped || this.#o.ignored(path)) return;
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      // removed: a folder that went away takes its watcher with it
      if (this.#watchers.has(path)) this.#drop(path);
    }
    if (isDir) this.#add(path);
    this.#last = path;
    this.#timer?.clear();
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#o.onChange(this.#last);
    }, this.#o.debounceMs);
  }
}

/**
 * The ignore test for a program's watch. A pattern without '/' matches any single path
 * segment (`node_modules`, `*.log`, `tmp?`); one with '/' is a path relative to `cwd` (or
 * absolute) that matches itself and everything under it, globs allowed (`*` within a segment,
 * `**` across segments). `always` are absolute paths ignored with everything under them and
 * their siblings `<path>.*` (the daemon's home; log files with their rotated copies and
 * indexes), besides ALWAYS_IGNORED.
 */
export function ignoreMatcher(patterns: readonly string[], cwd: string, always: readonly string[]): (path: string) => boolean {
  const segments = [...ALWAYS_IGNORED, ...patterns.filter((p) => !p.includes('/'))].map(globRegExp);
  const siblings = always.map((p) => `${p.replace(/\/+$/, '')}.`);
  const prefixes = [...always, ...patterns.filter((p) => p.includes('/')).map((p) => (isAbsolute(p) ? p : resolve(cwd, p)))].map((p) =>
    /[*?]/.test(p) ? new RegExp(`^${globSource(p.replace(/\/+$/, ''))}(?:/.*)?$`) : p.replace(/\/+$/, ''),
  );
  return (path) => {
    if (siblings.some((s) => path.startsWith(s))) return true;
    for (const pre of prefixes) {
      if (typeof pre === 'string' ? path === pre || path.startsWith(pre + sep) : pre.test(path)) return true;
    }
    return path.split(sep).some((seg) => segments.some((re) => re.test(seg)));
  };
}

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`);
}

function globSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*' && glob[i + 2] === '/') {
      out += '(?:.*/)?'; // `**/`: any number of folders, none included
      i += 2;
    } else if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}

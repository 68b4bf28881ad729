// Checkers for config validation: each records one problem line starting with the value's
// path and returns undefined on a bad value, so validation goes on and reports every problem.

import type { Backoff, Ready } from './config.js';
import { formatDuration, parseDuration, parseSize } from './units.js';

/**
 * The longest delay a Node timer keeps: a longer one fires after 1 ms with a
 * TimeoutOverflowWarning, so `killTimeout: 600h` would SIGKILL at once and an activity timer
 * would spin. Every duration in a config is bounded by it (about 24.8 days).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Smaller files would rotate on nearly every line; smaller memory limits are no limit a process can meet. */
export const MIN_SIZE = 4096;

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function show(x: unknown): string {
  if (typeof x === 'string') return `'${x}'`;
  if (Array.isArray(x)) return 'a list';
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  return String(x);
}

/** A day of waiting between restarts is already no restart; a bigger factor reaches any max in a step or two. */
const MAX_BACKOFF_MS = 24 * 3_600_000;
const MAX_BACKOFF_FACTOR = 10;

export class Validator {
  constructor(private readonly problems: string[]) {}

  keys(obj: Record<string, unknown>, path: string, allowed: string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k))
        this.problems.push(`${path === '' ? '' : `${path}.`}${k}: unknown key (expected one of ${allowed.join(', ')})`);
    }
  }
  object(x: unknown, path: string): boolean {
    if (isObject(x)) return true;
    this.problems.push(`${path}: expected an object, got ${show(x)}`);
    return false;
  }
  array(x: unknown, path: string): boolean {
    if (Array.isArray(x)) return true;
    this.problems.push(`${path}: expected a list, got ${show(x)}`);
    return false;
  }
  string(x: unknown, path: string): string | undefined {
    if (typeof x === 'string' && x !== '') return x;
    this.problems.push(`${path}: expected a non-empty string, got ${show(x)}`);
    return undefined;
  }
  bool(x: unknown, path: string): boolean | undefined {
    if (typeof x === 'boolean') return x;
    this.problems.push(`${path}: expected true or false, got ${show(x)}`);
    return undefined;
  }
  int(x: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max) return x;
    this.problems.push(
      `${path}: expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got ${show(x)}`,
    );
    return undefined;
  }
  oneOf(x: unknown, path: string, options: string[]): string | undefined {
    if (typeof x === 'string' && options.includes(x)) return x;
    this.problems.push(`${path}: expected ${options.join(' | ')}, got ${show(x)}`);
    return undefined;
  }
  duration(x: unknown, path: string, min = 0, max = MAX_TIMER_MS): number | undefined {
    const ms = parseDuration(x);
    if (ms === undefined) this.problems.push(`${path}: expected a duration (ms number or "500ms", "5s", "2m", "1h", "1d"), got ${show(x)}`);
    else if (ms < min) this.problems.push(`${path}: expected a duration of at least ${min}ms, got ${show(x)}`);
    else if (ms > max)
      this.problems.push(
        `${path}: expected a duration of at most ${max === MAX_TIMER_MS ? `${MAX_TIMER_MS}ms (about 24.8 days)` : max % 3_600_000 === 0 ? `${max / 3_600_000}h` : formatDuration(max)}, got ${show(x)}`,
      );
    else return ms;
    return undefined;
  }
  size(x: unknown, path: string, min = MIN_SIZE): number | undefined {
    const bytes = parseSize(x);
    if (bytes === undefined) this.problems.push(`${path}: expected a size (bytes number or "512KB", "10MB", "1GB"), got ${show(x)}`);
    else if (bytes < min)
      this.problems.push(`${path}: expected a size of at least ${min === MIN_SIZE ? '4KB' : `${min} bytes`}, got ${show(x)}`);
    else if (bytes > Number.MAX_SAFE_INTEGER)
      this.problems.push(`${path}: expected a size of at most ${Number.MAX_SAFE_INTEGER} bytes, got ${show(x)}`);
    else return bytes;
    return undefined;
  }
  /** A string with no NUL byte: the kernel takes arguments, paths and environment as C strings. */
  cString(x: string, path: string, what: string): boolean {
    if (!x.includes('\0')) return true;
    this.problems.push(`${path}: ${what} contains a NUL byte`);
    return false;
  }
  backoff(x: unknown, path: string, dflt: Backoff): Backoff {
    if (!this.object(x, path)) return dflt;
    const b = x as Record<string, unknown>;
    this.keys(b, path, ['initial', 'factor', 'max', 'resetAfter']);
    const out = { ...dflt };
    if (b.initial !== undefined) out.initialMs = this.duration(b.initial, `${path}.initial`, 0, MAX_BACKOFF_MS) ?? out.initialMs;
    if (b.max !== undefined) out.maxMs = this.duration(b.max, `${path}.max`, 0, MAX_BACKOFF_MS) ?? out.maxMs;
    if (b.resetAfter !== undefined) out.resetAfterMs = this.duration(b.resetAfter, `${path}.resetAfter`) ?? out.resetAfterMs;
    if (b.factor !== undefined) {
      if (typeof b.factor === 'number' && b.factor >= 1 && b.factor <= MAX_BACKOFF_FACTOR) out.factor = b.factor;
      else this.problems.push(`${path}.factor: expected a number from 1 to ${MAX_BACKOFF_FACTOR}, got ${show(b.factor)}`);
    }
    return out;
  }
  ready(x: unknown, path: string): Ready | undefined {
    if (!this.object(x, path)) return undefined;
    const r = x as Record<string, unknown>;
    const keys = Object.keys(r);
    if (keys.length !== 1 || !['log', 'http', 'message', 'delay'].includes(keys[0]!)) {
      this.problems.push(`${path}: expected exactly one of log, http, message, delay, got ${keys.length === 0 ? 'none' : keys.join(', ')}`);
      return undefined;
    }
    if (r.log !== undefined) {
      const src = this.string(r.log, `${path}.log`);
      if (src === undefined) return undefined;
      try {
        return { kind: 'log', pattern: new RegExp(src) };
      } catch (err) {
        this.problems.push(`${path}.log: not a valid pattern: ${(err as Error).message}`);
        return undefined;
      }
    }
    if (r.http !== undefined) {
      const url = this.string(r.http, `${path}.http`);
      if (url === undefined) return undefined;
      if (!/^https?:\/\//.test(url)) {
        this.problems.push(`${path}.http: expected an http:// or https:// URL, got ${show(url)}`);
        return undefined;
      }
      return { kind: 'http', url };
    }
    if (r.message !== undefined) {
      if (r.message === true) return { kind: 'message' };
      this.problems.push(`${path}.message: expected true, got ${show(r.message)}`);
      return undefined;
    }
    const ms = this.duration(r.delay, `${path}.delay`);
    return ms === undefined ? undefined : { kind: 'delay', ms };
  }
}

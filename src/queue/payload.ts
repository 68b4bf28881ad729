// The one validation in front of every store: what `add`, `schedule` and the id-taking calls
// are given is checked here, so memory, PGlite and PostgreSQL accept and refuse exactly the
// same input, and a bad value gets an error naming its field instead of a database error.
//
// Payload rules: null, booleans, finite numbers, strings, arrays and plain objects only, at
// most MAX_PAYLOAD_DEPTH levels deep. Refused, with the path of the culprit: undefined at the
// top level or in an array (JSON turns it into nothing or null), functions, symbols, BigInt,
// NaN and ±Infinity (JSON makes them null), cycles, non-plain objects such as Date, Map, Set
// or class instances (JSON would hand back a string or {}), and strings or property names
// holding U+0000 or a lone surrogate (PostgreSQL's jsonb cannot store them, and UTF-8 cannot
// carry a lone surrogate). An object property whose value is undefined is dropped, exactly as
// JSON.stringify drops it: reading it in the handler still gives undefined.
//
// Text fields (kind, key, queue, schedule and lease names) follow the same character rule and
// have a byte limit, because PostgreSQL indexes them (a btree entry holds about 2.7 kB) and
// sends kinds in NOTIFY payloads (8,000 bytes). Numbers that PostgreSQL stores as integer or
// timestamptz are checked against those ranges.

import { InvalidPayloadError } from './errors.js';
import type { AddOptions, NewJob } from './types.js';

/** Deepest payload nesting accepted (arrays and objects count one level each). */
export const MAX_PAYLOAD_DEPTH = 1000;
/** The longest kind, in UTF-8 bytes, that every store can index and notify. */
export const MAX_KIND_BYTES = 1000;
/** The longest key, queue or schedule name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1000;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
/**
 * runAt must have a four-digit year (1000 to 9999): inside JavaScript's Date and PostgreSQL's
 * timestamptz, and read back exactly by both drivers (PGlite's reads years below 100 wrong).
 */
export const MIN_TIME_MS = -30_610_224_000_000; // 1000-01-01T00:00:00Z
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** Longest delay accepted (about 3,000 years): now + delayMs stays inside MAX_TIME_MS. */
export const MAX_DELAY_MS = 1e14;
const BIGINT_MAX = 9_223_372_036_854_775_807n;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` cannot be stored as PostgreSQL text, or undefined when it can. */
function badCharacters(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains U+0000 (NUL), which PostgreSQL text and jsonb cannot store';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate, which is not valid Unicode';
  return undefined;
}

export function checkPayload(value: unknown): string {
  if (value === undefined) throw new InvalidPayloadError('payload', 'is undefined (use null for "no payload")');
  walk(value, 'payload', new Set(), 0);
  return JSON.stringify(value);
}

function walk(value: unknown, path: string, seen: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string': {
      const bad = badCharacters(value);
      if (bad !== undefined) throw new InvalidPayloadError(path, bad);
      return;
    }
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidPayloadError(path, `is ${value}, which JSON turns into null`);
      return;
    case 'undefined':
      throw new InvalidPayloadError(path, 'is undefined, which JSON turns into null');
    case 'bigint':
      throw new InvalidPayloadError(path, 'is a BigInt; pass it as a string');
    case 'function':
    case 'symbol':
      throw new InvalidPayloadError(path, `is a ${typeof value}`);
  }
  if (value === null) return;
  const obj = value as object;
  if (seen.has(obj)) throw new InvalidPayloadError(path, 'is a cycle back to an enclosing value');
  if (depth >= MAX_PAYLOAD_DEPTH) throw new InvalidPayloadError(path, `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  seen.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => walk(item, `${path}[${i}]`, seen, depth + 1));
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj.constructor as { name?: string } | undefined)?.name ?? 'object';
      throw new InvalidPayloadError(path, `is a ${name}, not a plain object; convert it (a Date to an ISO string)`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const bad = badCharacters(k);
      if (bad !== undefined) throw new InvalidPayloadError(`${path}[${JSON.stringify(k)}]`, `has a property name that ${bad}`);
      if (v !== undefined) walk(v, `${path}.${k}`, seen, depth + 1);
    }
  }
  seen.delete(obj);
}

/**
 * Checks a text field the stores index: a non-empty string (TypeError otherwise) of at most
 * `maxBytes` UTF-8 bytes, with no NUL or lone surrogate (RangeError naming `field`).
 */
export function checkText(field: string, value: unknown, maxBytes = MAX_NAME_BYTES): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${field} must be a non-empty string, got ${value === '' ? 'an empty string' : typeof value}`);
  }
  const bad = badCharacters(value);
  if (bad !== undefined) throw new RangeError(`${field} ${bad}`);
  const bytes = Buffer.byteLength(value);
  if (bytes > maxBytes) {
    throw new RangeError(`${field} must be at most ${maxBytes} bytes in UTF-8, got ${bytes} (${JSON.stringify(value.slice(0, 40))}...)`);
  }
  return value;
}

export function checkKind(kind: unknown): string {
  return checkText('job kind', kind, MAX_KIND_BYTES);
}

/** An integer option in PostgreSQL's integer range (and at least `min`). */
export function checkInt(field: string, value: number, min = INT32_MIN): number {
  if (!Number.isSafeInteger(value) || value < min || value > INT32_MAX) {
    throw new RangeError(`${field} must be an integer from ${min} to ${INT32_MAX}, got ${String(value)}`);
  }
  return value;
}

/** Epoch ms of a `runAt`, inside the range every store can hold. */
export function checkTime(field: string, value: Date | number): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new RangeError(`${field} must be a valid Date or epoch ms, got ${String(value)}`);
  if (ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
    throw new RangeError(`${field} must lie between years 1000 and 9999 (epoch ms ${MIN_TIME_MS} to ${MAX_TIME_MS}), got ${ms}`);
  }
  return ms;
}

/** A duration in ms: finite, >= 0, at most `max`. */
export function checkMs(field: string, value: number, max = MAX_DELAY_MS): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new RangeError(`${field} must be a number of ms from 0 to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * A job id as the stores hold it (a positive bigint in decimal, no leading zeros), or null
 * for anything else: no job can have such an id, so get/retry/cancel answer null.
 */
export function parseId(id: unknown): string | null {
  const s = typeof id === 'number' ? (Number.isSafeInteger(id) ? String(id) : '') : typeof id === 'string' ? id : '';
  if (!/^[1-9][0-9]{0,18}$/.test(s) || BigInt(s) > BIGINT_MAX) return null;
  return s;
}

/** Validates one `add` call and turns it into what a store inserts. */
export function newJob(kind: unknown, payload: unknown, options: AddOptions = {}): NewJob {
  const k = checkKind(kind);
  const payloadJson = checkPayload(payload);
  const priority = checkInt('priority', options.priority ?? 0);
  const maxAttempts = checkInt('maxAttempts', options.maxAttempts ?? 5, 1);
  const runAtMs = options.runAt === undefined ? null : checkTime('runAt', options.runAt);
  const delayMs = checkMs('delayMs', options.delayMs ?? 0);
  const key = options.key === undefined || options.key === null ? null : checkText('key', options.key);
  const queue = options.queue === undefined || options.queue === null ? null : checkText('queue', options.queue);
  return { kind: k, payloadJson, runAtMs, delayMs, priority, maxAttempts, key, queue };
}

/**
 * An error message as a store can keep it: U+0000 and lone surrogates are replaced (by "\0"
 * and U+FFFD), so a handler's odd error text is recorded rather than refused by the database.
 */
export function storableText(s: string): string {
  if (badCharacters(s) === undefined) return s;
  return s.replace(/\u0000/g, '\\0').replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}

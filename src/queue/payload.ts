// Checks what `add` is given before anything reaches a store: a payload must come back from
// JSON exactly as it went in (so a handler sees what was added), the kind must be a
// non-empty string, and the options must be sane numbers.
//
// Payload rules: null, booleans, finite numbers, strings, arrays and plain objects only.
// Refused, with the path of the culprit: undefined at the top level or in an array (JSON
// turns it into nothing or null), functions, symbols, BigInt, NaN and ±Infinity (JSON makes
// them null), cycles, and non-plain objects such as Date, Map, Set or class instances (JSON
// would hand back a string or {}). An object property whose value is undefined is dropped,
// exactly as JSON.stringify drops it: reading it in the handler still gives undefined.

import { InvalidPayloadError } from './errors.js';
import type { AddOptions, NewJob } from './types.js';

export function checkPayload(value: unknown): string {
  if (value === undefined) throw new InvalidPayloadError('payload', 'is undefined (use null for "no payload")');
  walk(value, 'payload', new Set());
  return JSON.stringify(value);
}

function walk(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
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
  seen.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => walk(item, `${path}[${i}]`, seen));
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj.constructor as { name?: string } | undefined)?.name ?? 'object';
      throw new InvalidPayloadError(path, `is a ${name}, not a plain object; convert it (a Date to an ISO string)`);
    }
    for (const [k, v] of Object.entries(obj)) {
      if (v !== undefined) walk(v, `${path}.${k}`, seen);
    }
  }
  seen.delete(obj);
}

/** The longest kind, in UTF-8 bytes, that every store can index and notify. */
export const MAX_KIND_BYTES = 1000;

export function checkKind(kind: unknown): string {
  if (typeof kind !== 'string' || kind.length === 0) {
    throw new TypeError(`job kind must be a non-empty string, got ${kind === '' ? 'an empty string' : typeof kind}`);
  }
  // The SQL stores index the kind and send it in NOTIFY (8,000 bytes at most); refuse here,
  // in every store alike, rather than fail inside the database with its message.
  if (Buffer.byteLength(kind) > MAX_KIND_BYTES) {
    throw new RangeError(`job kind must be at most ${MAX_KIND_BYTES} bytes in UTF-8, got ${Buffer.byteLength(kind)} (${JSON.stringify(kind.slice(0, 40))}...)`);
  }
  return kind;
}

/** Validates one `add` call and turns it into what a store inserts. */
export function newJob(kind: unknown, payload: unknown, options: AddOptions = {}): NewJob {
  const k = checkKind(kind);
  const payloadJson = checkPayload(payload);
  const priority = options.priority ?? 0;
  if (!Number.isSafeInteger(priority)) throw new RangeError(`priority must be an integer, got ${priority}`);
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  let runAtMs: number | null = null;
  if (options.runAt !== undefined) {
    runAtMs = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (!Number.isFinite(runAtMs)) throw new RangeError(`runAt must be a valid Date or epoch ms, got ${String(options.runAt)}`);
  }
  const delayMs = options.delayMs ?? 0;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`delayMs must be >= 0, got ${delayMs}`);
  const key = options.key ?? null;
  if (key !== null && (typeof key !== 'string' || key.length === 0)) {
    throw new TypeError('key must be a non-empty string when given');
  }
  return { kind: k, payloadJson, runAtMs, delayMs, priority, maxAttempts, key };
}

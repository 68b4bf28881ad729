// Shared test helpers for bosun/service: a logger that records lines, and a bounded wait for
// a condition (real time, polling between macrotasks) for things the TestClock does not drive.

import type { Logger } from '../../src/core/logger.js';
import { until as waitUntil } from '../support.js';

export interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Polls `cond` between macrotasks until it holds (what these tests wait for is in-process work). */
export const until = (cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> => waitUntil(cond, what, timeoutMs, 0);

/** Settles `p` into a tagged result so a test can assert it has (or has not) settled. */
export function track<T>(p: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const t: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (v) => {
      t.settled = true;
      t.value = v;
    },
    (e: unknown) => {
      t.settled = true;
      t.error = e;
    },
  );
  return t;
}

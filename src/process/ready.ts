// Readiness of a monitored process: a line of output matching a pattern, an IPC message
// ('ready' or { type: 'ready' }), an HTTP URL answering 2xx/3xx (polled through the clock), or
// a fixed delay. The promise resolves once; the monitor rejects it if the process ends first.

import type { ChildProcess } from 'node:child_process';
import type { Clock } from '../core/clock.js';
import type { LineListener } from './output.js';

export type ReadyCheck = (
  | { log: string | RegExp }
  | { message: true }
  | { http: string; /** Poll period, default 100 ms. */ intervalMs?: number }
  | { delayMs: number }
) & {
  /** Not ready this long after spawn: the worker fails with a TimeoutError. Default: wait forever. */
  timeoutMs?: number;
};

export interface ReadyContext {
  /** The IPC channel's end; absent for an adopted process (no channel). */
  child?: ChildProcess;
  clock: Clock;
  /** Aborted when the process has exited or the monitor stops watching. */
  stop: AbortSignal;
  listen(fn: LineListener): () => void;
  ready(): void;
}

/** Starts watching for `check`; calls ctx.ready() at most once. */
export function watchReadiness(check: ReadyCheck, ctx: ReadyContext): void {
  if ('log' in check) {
    const pattern = check.log;
    const matches = typeof pattern === 'string' ? (l: string) => l.includes(pattern) : (l: string) => pattern.test(l);
    const unlisten = ctx.listen((_stream, line) => {
      if (!matches(line)) return;
      unlisten();
      ctx.ready();
    });
    ctx.stop.addEventListener('abort', unlisten, { once: true });
  } else if ('message' in check) {
    const child = ctx.child;
    if (child === undefined) return;
    const onMessage = (m: unknown) => {
      if (m === 'ready' || (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ready')) {
        child.off('message', onMessage);
        ctx.ready();
      }
    };
    child.on('message', onMessage);
    ctx.stop.addEventListener('abort', () => child.off('message', onMessage), { once: true });
  } else if ('http' in check) {
    void pollHttp(check.http, check.intervalMs ?? 100, ctx);
  } else {
    ctx.clock.sleep(check.delayMs, ctx.stop).then(
      () => ctx.ready(),
      () => {},
    );
  }
}

async function pollHttp(url: string, intervalMs: number, ctx: ReadyContext): Promise<void> {
  while (!ctx.stop.aborted) {
    const attempt = new AbortController();
    const onStop = () => attempt.abort();
    ctx.stop.addEventListener('abort', onStop, { once: true });
    const timer = ctx.clock.setTimeout(() => attempt.abort(), Math.max(1000, intervalMs * 10));
    try {
      const res = await fetch(url, { signal: attempt.signal });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 400) {
        ctx.ready();
        return;
      }
    } catch {
      // not listening yet (or the attempt timed out): try again after the interval
    } finally {
      timer.clear();
      ctx.stop.removeEventListener('abort', onStop);
    }
    try {
      await ctx.clock.sleep(intervalMs, ctx.stop);
    } catch {
      return;
    }
  }
}

// Exit codes and one-line errors, shared by the client commands and the daemon's own start
// (which must not load the client's modules: the idle daemon stays small).

import { writeSync } from 'node:fs';

export const EXIT = { ok: 0, failed: 1, usage: 2, noDaemon: 3 } as const;

/** Raised inside a command to exit with `code` after printing `message`. */
export class Exit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}

export interface Common {
  home?: string;
  config?: string;
}

/** One line for a system error (EACCES, ENOSPC, ...): what failed on which path; undefined for other errors. */
export function systemErrorLine(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (typeof e?.code !== 'string' || typeof e.syscall !== 'string') return undefined;
  const what = e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.message.replace(/^[A-Z]+: /, '').replace(/, .*$/, '');
  return `bosun: ${what}: ${e.syscall}${e.path === undefined ? '' : ` ${e.path}`}${e.dest === undefined ? '' : ` -> ${e.dest}`} (${e.code})`;
}

/**
 * A reader that went away (`bosun status --json | head -c1`, `bosun logs | head`) ends the
 * command quietly with its exit code so far, instead of a Node EPIPE trace.
 */
export function exitQuietlyOnClosedStdout(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET')
        process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
      // Any other output error (a full disk under a redirect): one line if stderr still takes it.
      try {
        writeSync(2, `${systemErrorLine(err) ?? `bosun: ${err.message}`}\n`);
      } catch {
        // nowhere left to say it
      }
      process.exit(EXIT.failed);
    });
  }
}

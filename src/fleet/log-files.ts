// Where each program instance's output goes, and how the file is opened: readable by the
// fleet's user only (programs print secrets) and never through a symbolic link, so a link or
// a file someone else put at that path cannot collect the output.

import { join } from 'node:path';
import type { LogFileOptions } from '../process/log-file.js';
import type { DaemonConfig as FleetConfig, ProgramConfig } from './config.js';

/** The mode a program log is created with. */
export const PROGRAM_LOG_MODE = 0o600;

export interface ProgramLogFile extends LogFileOptions {
  path: string;
  maxSize: number;
  keep: number;
}

/** Instance `index` of `c` logs to `<home>/logs/<name>-<index>.log`, or to `logs.file` (`-<index>` added with several instances). */
export function programLogFile(home: string, c: ProgramConfig, index: number): ProgramLogFile {
  const path =
    c.logs.file === undefined
      ? join(home, 'logs', `${c.name}-${index}.log`)
      : c.instances > 1
        ? c.logs.file.replace(/(\.log)?$/, `-${index}$1`)
        : c.logs.file;
  return { path, maxSize: c.logs.maxSize, keep: c.logs.keep, mode: PROGRAM_LOG_MODE, noFollow: true };
}

/** The log file of every instance of `config`, programs in file order. */
export function programLogFiles(config: FleetConfig): ProgramLogFile[] {
  return config.programs.flatMap((c) => Array.from({ length: c.instances }, (_, i) => programLogFile(config.home, c, i)));
}

// Where each program instance writes its output. One function, used by the daemon to open the
// file and by validation to refuse two instances sharing one.

import { join } from 'node:path';
import type { ProgramConfig } from './config.js';

/** `logs.file` (numbered `-<index>` when there are several instances) or `<home>/logs/<name>-<index>.log`. */
export function instanceLogPath(home: string, program: Pick<ProgramConfig, 'name' | 'instances' | 'logs'>, index: number): string {
  const file = program.logs.file;
  if (file === undefined) return join(home, 'logs', `${program.name}-${index}.log`);
  return program.instances > 1 ? file.replace(/(\.log)?$/, `-${index}$1`) : file;
}

// Checks a config against the file system before anything starts. Without them a missing
// cwd, binary or script is found only by spawning it, and the program crash-loops to `failed`
// with "spawn sleep ENOENT"; two programs whose log paths are one file (a hard or symbolic
// link) interleave and rotate each other's lines away. Each problem is one line at its path.

import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { basename, delimiter, resolve } from 'node:path';
import type { ProgramConfig } from './config.js';
import { programLogFile } from './log-files.js';

/** Appends a line to `problems` for each program whose cwd, command, node script or log file would fail. */
export function preflight(home: string, programs: ProgramConfig[], problems: string[], env: NodeJS.ProcessEnv = process.env): void {
  const logFiles = new Map<string, string>();
  for (const p of programs) {
    const path = `programs.${p.name}`;
    const cwdProblem = directoryProblem(p.cwd);
    if (cwdProblem !== undefined) {
      problems.push(`${path}.cwd: ${cwdProblem}`);
      continue;
    }
    if (!p.shell && p.command.length > 0) {
      const commandProblem = executableProblem(p.command[0]!, p.cwd, p.env.PATH ?? env.PATH);
      if (commandProblem !== undefined) problems.push(`${path}.command[0]: ${commandProblem}`);
      else if (isNode(p.command[0]!, p.cwd, p.env.PATH ?? env.PATH)) {
        const script = nodeScript(p.command);
        if (script !== undefined && !scriptExists(resolve(p.cwd, p.command[script]!))) {
          problems.push(`${path}.command[${script}]: no such script '${resolve(p.cwd, p.command[script]!)}'`);
        }
      }
    }
    for (let i = 0; i < p.instances; i++) {
      const file = programLogFile(home, p, i).path;
      const st = statOrUndefined(file);
      if (st === undefined) continue;
      const id = `${st.dev}:${st.ino}`;
      const other = logFiles.get(id);
      if (other !== undefined) {
        problems.push(`${path}.logs.file: '${file}' is the same file (a link) as the log of ${other}; give each program its own file`);
        break;
      }
      logFiles.set(id, `${p.name}[${i}]`);
    }
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function directoryProblem(dir: string): string | undefined {
  const st = statOrUndefined(dir);
  if (st === undefined) return `no such directory '${dir}'`;
  if (!st.isDirectory()) return `'${dir}' is not a directory`;
  try {
    accessSync(dir, constants.X_OK);
  } catch {
    return `cannot enter '${dir}' (permission denied)`;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where spawn would find `command`: a path with a slash from `cwd`, a bare name on PATH (an empty entry is `cwd`). */
function findExecutable(command: string, cwd: string, path: string | undefined): string | undefined {
  if (command.includes('/')) {
    const file = resolve(cwd, command);
    return isExecutableFile(file) ? file : undefined;
  }
  for (const dir of (path ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const file = resolve(cwd, dir, command);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

function executableProblem(command: string, cwd: string, path: string | undefined): string | undefined {
  if (findExecutable(command, cwd, path) !== undefined) return undefined;
  if (command.includes('/')) {
    const file = resolve(cwd, command);
    const st = statOrUndefined(file);
    if (st === undefined) return `no such file '${file}'`;
    return st.isFile() ? `'${file}' is not executable` : `'${file}' is not a file`;
  }
  return `'${command}' not found on PATH`;
}

function isNode(command: string, cwd: string, path: string | undefined): boolean {
  const name = basename(command);
  return name === 'node' || name === 'nodejs' || findExecutable(command, cwd, path) === process.execPath;
}

// node options whose value is the next argument; after any of the "no script" ones node runs no file.
const NODE_VALUE_OPTIONS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--input-type',
  '--env-file',
  '--title',
  '--inspect-port',
  '--stack-size',
]);
const NODE_NO_SCRIPT = new Set([
  '-e',
  '--eval',
  '-p',
  '--print',
  '-i',
  '--interactive',
  '-v',
  '--version',
  '-h',
  '--help',
  '-',
  '--test',
  '--run',
]);

/** The index in `argv` of the script node would run, or undefined when it runs none (`-e`, `--test`, a REPL). */
function nodeScript(argv: string[]): number | undefined {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (NODE_NO_SCRIPT.has(a)) return undefined;
    if (a === '--') return i + 1 < argv.length ? i + 1 : undefined;
    if (NODE_VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return i;
  }
  return undefined;
}

/** As node resolves its main module: the path itself (a file or a folder), or with a module extension. */
function scriptExists(file: string): boolean {
  for (const candidate of [file, `${file}.js`, `${file}.mjs`, `${file}.cjs`, `${file}.json`, `${file}.node`]) {
    if (statOrUndefined(candidate) !== undefined) return true;
  }
  return false;
}

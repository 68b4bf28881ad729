// How a client command (status, stop, logs, ...) finds the daemon's home. It needs the home
// only, so it never validates the config: a file that became invalid, or is being edited, must
// not lock the operator out of the running daemon. The `home` key is read leniently (default:
// .bosun beside the config); when nothing answers there, the running daemons of this config
// are looked up in /proc, so editing `home` under a running daemon still reaches it.

import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BosunError } from '../core/errors.js';
import { findConfig } from '../fleet/config.js';
import { socketInodes, unixSocketPaths } from './unix-sockets.js';

/** `--config FILE` names a file that does not exist (exit 2). */
export class NoConfigFileError extends BosunError {
  constructor(file: string) {
    super('ERR_NO_CONFIG_FILE', `no such config file: ${file}`);
  }
}

/** The config file a client command means: `given` (which must exist), else the default one here, else undefined. */
export function clientConfigFile(given: string | undefined, cwd = process.cwd()): string | undefined {
  const file = findConfig(given, cwd);
  if (given !== undefined && !existsSync(file!)) throw new NoConfigFileError(given);
  return file;
}

/** The home `file` names, read without validating the rest; .bosun beside it when it names none readable. */
export async function lenientHome(file: string): Promise<string> {
  const fallback = resolve(dirname(file), '.bosun');
  let home: unknown;
  try {
    const ext = extname(file);
    if (ext === '.js' || ext === '.mjs' || ext === '.cjs') {
      home = ((await import(pathToFileURL(file).href)) as { default?: { home?: unknown } }).default?.home;
    } else {
      const text = readFileSync(file, 'utf8');
      // Most configs name no home: then there is nothing to parse.
      if (!/^\s*\{?\s*["']?home["']?\s*:/m.test(text)) return fallback;
      home = await parsedHome(text);
    }
  } catch {
    return fallback;
  }
  return typeof home === 'string' && home !== '' ? resolve(dirname(file), home) : fallback;
}

async function parsedHome(text: string): Promise<unknown> {
  try {
    return (JSON.parse(text) as { home?: unknown } | null)?.home;
  } catch {
    // YAML, or broken JSON: the yaml parser keeps what it could read of a file with errors.
    const { parseDocument } = await import('yaml');
    const doc = parseDocument(text, { uniqueKeys: false });
    return doc.get('home');
  }
}

/**
 * Homes of the running bosun daemons of this user whose config is `file`, found through
 * /proc: a `bosun run` process whose config resolves to the same file, and the unix socket
 * it listens on (/proc/net/unix names the path of each socket inode).
 */
export function daemonHomesFor(file: string): string[] {
  let target: string;
  try {
    target = realpathSync(file);
  } catch {
    return [];
  }
  const sockets = unixSocketPaths((path) => path.endsWith('/bosun.sock'));
  if (sockets.size === 0) return [];
  const homes: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const config = daemonConfigArg(argv);
      if (config === undefined) continue;
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      const used = findConfig(config === '' ? undefined : config, cwd);
      if (used === undefined || realpathSync(used) !== target) continue;
      for (const ino of socketInodes(Number(name))) {
        const path = sockets.get(ino);
        if (path !== undefined) homes.push(dirname(path));
      }
    } catch {
      // gone, or another user's process
    }
  }
  return [...new Set(homes)];
}

/** For the argv of a `bosun run` process: its config argument ('' when it names none); undefined for any other process. */
function daemonConfigArg(argv: string[]): string | undefined {
  const main = argv.findIndex((a) => /(^|\/)(bosun|cli\/main\.js)$/.test(a));
  if (main < 0) return undefined;
  const rest = argv.slice(main + 1).filter((a) => a !== '');
  let config: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--home') i++;
    else if (a === '-c' || a === '--config') config = rest[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (!a.startsWith('-')) positional.push(a);
  }
  if (positional[0] !== 'run') return undefined;
  return positional[1] ?? config ?? '';
}

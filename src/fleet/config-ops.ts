// The config keys for operating a program the way PM2 users do: `listen` (sockets the fleet
// binds once and hands to every instance), `rolling`, `envFile`, `watch` and `cronRestart`,
// validated in one self-contained block so config.ts only spreads what it returns. Every
// problem is one line starting with its path, as everywhere else in the config.

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { Cron } from 'croner';
import { isObject, show, type Validator } from './validator.js';

/** One `listen` entry: a TCP port (on every interface, or on one address) or a unix socket path. */
export type ListenSpec =
  | {
      kind: 'tcp';
      /** An IP address; undefined binds every interface (:: with v4 mapped, else 0.0.0.0). */ host: string | undefined;
      port: number;
      /** As written. */ text: string;
    }
  | { kind: 'unix'; /** Absolute. */ path: string; text: string };

export interface WatchConfig {
  /** Absolute paths (files or folders, watched recursively). */
  paths: string[];
  /** Patterns as written (see watch.ts for how they match); node_modules, .git and the home always apply. */
  ignore: string[];
  debounceMs: number;
}

/** What config.ts spreads into a ProgramConfig. */
export interface OpsConfig {
  /** The instance's environment: the envFile's variables, then `env` over them. */
  env: Record<string, string>;
  listen: ListenSpec[];
  /** Restarts, reloads, watch and cron restarts replace one instance at a time. */
  rolling: boolean;
  /** Absolute path of the dotenv file read into `env`. */
  envFile?: string;
  watch?: WatchConfig;
  /** A croner expression (5 fields, or 6 with seconds first). */
  cronRestart?: string;
}

export const OPS_KEYS = ['listen', 'rolling', 'envFile', 'watch', 'cronRestart'];
const DEFAULT_DEBOUNCE_MS = 500;
/** `{instance}` and `{port}` are the placeholders ready.http may use. */
const PLACEHOLDER = /\{([^}]*)\}/g;

/**
 * Validates the ops keys of one program. `base` is the config's folder (envFile and unix
 * socket paths are relative to it), `cwd` the program's (watch paths are relative to it),
 * `env` the program's own `env`, which wins over the envFile.
 */
export function validateOps(
  v: Validator,
  problems: string[],
  prog: Record<string, unknown>,
  path: string,
  base: string,
  cwd: string,
  env: Record<string, string>,
): OpsConfig {
  const out: OpsConfig = { env, listen: [], rolling: false };
  if (prog.listen !== undefined && v.array(prog.listen, `${path}.listen`)) {
    const seen = new Set<string>();
    (prog.listen as unknown[]).forEach((entry, i) => {
      const at = `${path}.listen[${i}]`;
      const spec = parseListen(entry, base);
      if (typeof spec === 'string') problems.push(`${at}: ${spec}`);
      else if (seen.has(listenKey(spec))) problems.push(`${at}: ${spec.text} is listed twice`);
      else {
        seen.add(listenKey(spec));
        out.listen.push(spec);
      }
    });
  }
  if (prog.rolling !== undefined) out.rolling = v.bool(prog.rolling, `${path}.rolling`) ?? false;
  if (prog.envFile !== undefined) {
    const f = v.string(prog.envFile, `${path}.envFile`);
    if (f !== undefined) {
      const file = resolve(base, f);
      out.envFile = file;
      try {
        const parsed = parseEnv(readFileSync(file, 'utf8'));
        const fromFile: Record<string, string> = {};
        for (const [k, val] of Object.entries(parsed)) if (val !== undefined) fromFile[k] = val;
        out.env = { ...fromFile, ...env };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        problems.push(`${path}.envFile: cannot read ${file} (${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)})`);
      }
    }
  }
  if (prog.watch !== undefined) {
    const w = validateWatch(v, problems, prog.watch, `${path}.watch`, cwd);
    if (w !== undefined) out.watch = w;
  }
  if (prog.cronRestart !== undefined) {
    const expr = v.string(prog.cronRestart, `${path}.cronRestart`);
    if (expr !== undefined) {
      try {
        new Cron(expr, { paused: true }).stop();
        out.cronRestart = expr;
      } catch (err) {
        problems.push(`${path}.cronRestart: not a cron expression (croner: ${(err as Error).message})`);
      }
    }
  }
  checkReadyPlaceholders(prog, path, out, problems);
  return out;
}

/** What makes two entries the same socket. */
export function listenKey(spec: ListenSpec): string {
  return spec.kind === 'unix' ? `unix:${spec.path}` : `tcp:${spec.host ?? '*'}:${spec.port}`;
}

/** A ListenSpec, or a sentence saying what is wrong with `entry`. */
function parseListen(entry: unknown, base: string): ListenSpec | string {
  const expected = 'expected PORT, HOST:PORT (HOST an IP address, [v6] in brackets) or unix:PATH';
  if (typeof entry === 'number') return tcp(undefined, entry, String(entry)) ?? `${expected}, got ${show(entry)}`;
  if (typeof entry !== 'string' || entry === '') return `${expected}, got ${show(entry)}`;
  if (entry.startsWith('unix:')) {
    const p = entry.slice(5);
    if (p === '' || p.includes('\0')) return `${expected}, got ${show(entry)}`;
    const abs = isAbsolute(p) ? p : resolve(base, p);
    // sun_path holds 108 bytes with its NUL; longer paths cannot be bound.
    if (Buffer.byteLength(abs) > 107) return `the socket path ${abs} is longer than the 107 bytes a unix socket path may have`;
    return { kind: 'unix', path: abs, text: entry };
  }
  if (/^\d+$/.test(entry)) return tcp(undefined, Number(entry), entry) ?? `port out of range 1-65535, got ${show(entry)}`;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3}|localhost|\*)):(\d+)$/.exec(entry);
  if (m === null) return `${expected}, got ${show(entry)}`;
  const host = m[1] ?? (m[2] === 'localhost' ? '127.0.0.1' : m[2] === '*' ? undefined : m[2]);
  if (host !== undefined && m[2] !== undefined && host.split('.').some((n) => Number(n) > 255)) return `not an IPv4 address: ${show(m[2])}`;
  return tcp(host, Number(m[3]), entry) ?? `port out of range 1-65535, got ${show(entry)}`;
}

function tcp(host: string | undefined, port: number, text: string): ListenSpec | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? { kind: 'tcp', host, port, text } : undefined;
}

function validateWatch(v: Validator, problems: string[], raw: unknown, path: string, cwd: string): WatchConfig | undefined {
  if (raw === false) return undefined;
  const w: WatchConfig = { paths: [cwd], ignore: [], debounceMs: DEFAULT_DEBOUNCE_MS };
  if (raw === true) return w;
  if (!isObject(raw)) {
    problems.push(`${path}: expected true, false or { paths, ignore, debounce }, got ${show(raw)}`);
    return undefined;
  }
  v.keys(raw, path, ['paths', 'ignore', 'debounce']);
  const list = (x: unknown, at: string): string[] => {
    if (!v.array(x, at)) return [];
    const out: string[] = [];
    (x as unknown[]).forEach((s, i) => {
      const str = v.string(s, `${at}[${i}]`);
      if (str !== undefined) out.push(str);
    });
    return out;
  };
  if (raw.paths !== undefined) {
    const paths = list(raw.paths, `${path}.paths`);
    if (paths.length === 0 && Array.isArray(raw.paths)) problems.push(`${path}.paths: expected at least one path`);
    w.paths = paths.map((p) => resolve(cwd, p));
  }
  if (raw.ignore !== undefined) w.ignore = list(raw.ignore, `${path}.ignore`);
  if (raw.debounce !== undefined) w.debounceMs = v.duration(raw.debounce, `${path}.debounce`) ?? w.debounceMs;
  return w;
}

/** ready.http may name `{instance}` and `{port}`; `{port}` needs a TCP listen entry or a PORT variable. */
function checkReadyPlaceholders(prog: Record<string, unknown>, path: string, ops: OpsConfig, problems: string[]): void {
  const ready = prog.ready;
  if (!isObject(ready) || typeof ready.http !== 'string') return;
  for (const [, name] of ready.http.matchAll(PLACEHOLDER)) {
    if (name !== 'instance' && name !== 'port')
      problems.push(`${path}.ready.http: unknown placeholder {${name}} (expected {instance} or {port})`);
    else if (name === 'port' && !ops.listen.some((l) => l.kind === 'tcp') && ops.env.PORT === undefined) {
      problems.push(`${path}.ready.http: {port} needs a TCP entry in listen or a PORT variable in env or envFile`);
    }
  }
}

/** ready.http for one instance: `{instance}` its index, `{port}` its port (see portOf). */
export function readyUrl(url: string, index: number, port: number | string | undefined): string {
  return url.replace(PLACEHOLDER, (all, name: string) =>
    name === 'instance' ? String(index) : name === 'port' && port !== undefined ? String(port) : all,
  );
}

/** The port `{port}` names: the first TCP listen entry's, else the PORT variable. */
export function portOf(listen: readonly ListenSpec[], env: Record<string, string>): number | string | undefined {
  const first = listen.find((l) => l.kind === 'tcp');
  return first?.kind === 'tcp' ? first.port : env.PORT;
}

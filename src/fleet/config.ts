// The daemon's config file: finding it, loading it (yaml, json, js/mjs default export) and
// validating it into a normalized form. Every problem is reported as one line starting with
// its exact path (`programs.api.restart: expected ...`), so a bad file starts nothing.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve, extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { BosunError } from '../core/errors.js';
import { Validator, isObject, show } from './validator.js';
import { OPS_KEYS, validateOps, type OpsConfig } from './config-ops.js';

export type { ListenSpec, WatchConfig } from './config-ops.js';

export { defineConfig } from './define-config.js';
export type { ReadyInput, BackoffInput, ProgramInput, ConfigInput } from './define-config.js';

export type Ready = { kind: 'log'; pattern: RegExp } | { kind: 'http'; url: string } | { kind: 'message' } | { kind: 'delay'; ms: number };

export interface Backoff {
  initialMs: number;
  factor: number;
  maxMs: number;
  resetAfterMs: number;
}

/** A program's settings; `listen`, `rolling`, `envFile`, `watch` and `cronRestart` come from config-ops.ts. */
export interface ProgramConfig extends OpsConfig {
  name: string;
  command: string[];
  shell: boolean;
  cwd: string;
  env: Record<string, string>;
  instances: number;
  restart: 'always' | 'on-failure' | 'never';
  after: string[];
  ready?: Ready;
  /** Not ready this long after spawn: a failed start (reason ready-timeout). Default 60000. */
  readyTimeoutMs: number;
  activityTimeoutMs?: number;
  memoryLimitBytes?: number;
  killSignal: NodeJS.Signals;
  killTimeoutMs: number;
  logs: { file?: string; maxSize: number; keep: number };
  backoff: Backoff;
  intensity: number;
  periodMs: number;
}

/** What a crash that the policy restarts does to the other programs (OTP's meanings, in start order). */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export const STRATEGIES: Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

export interface DaemonConfig {
  /** Absolute path of the file it came from. */
  file: string;
  home: string;
  /** Absent means one_for_one. */
  strategy?: Strategy;
  dashboard: { host: string; port: number } | false;
  /** The job queue that `bosun jobs` and the dashboard's queue page show, when configured. */
  queue?: QueueConfig;
  /** In the order the file lists them. */
  programs: ProgramConfig[];
}

/** `queue:` in the config: a PostgreSQL database (and schema), or a PGlite directory (absolute). */
export type QueueConfig = { database: string; schema?: string } | { pglite: string };

/** The config is invalid; `problems` holds one line per problem, each starting with its path. */
export class ConfigError extends BosunError {
  readonly problems: string[];
  constructor(problems: string[], file: string) {
    super('ERR_CONFIG', `invalid config ${file}:\n${problems.join('\n')}`);
    this.problems = problems;
  }
}

export const CONFIG_NAMES = ['bosun.config.yaml', 'bosun.config.yml', 'bosun.config.json', 'bosun.config.mjs', 'bosun.config.js'];

/** The config file to use: `given`, else the first bosun.config.* in `cwd`; undefined when none exists. */
export function findConfig(given: string | undefined, cwd = process.cwd()): string | undefined {
  if (given !== undefined) return resolve(cwd, given);
  for (const name of CONFIG_NAMES) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Reads and validates `file`; throws ConfigError listing every problem. */
export async function loadConfig(file: string): Promise<DaemonConfig> {
  return validateConfig(await readConfig(file), file);
}

/** The parsed but unvalidated content of `file`; throws ConfigError when it cannot be read or parsed. */
export async function readConfig(file: string): Promise<unknown> {
  try {
    return await readConfigFile(file);
  } catch (err) {
    throw new ConfigError([`${file}: ${(err as Error).message.split('\n')[0]}`], file);
  }
}

async function readConfigFile(file: string): Promise<unknown> {
  const ext = extname(file);
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') {
    // A query string defeats the module cache so `reload` sees the edited file.
    const mod = (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as { default?: unknown };
    return mod.default;
  }
  if (ext === '.json') return JSON.parse(readFileSync(file, 'utf8'));
  return parseYamlElsewhere(file);
}

/** YAML parsed by a child process (see yaml-to-json.ts): the daemon stays free of the parser. */
function parseYamlElsewhere(file: string): Promise<unknown> {
  const script = fileURLToPath(new URL('./yaml-to-json.js', import.meta.url));
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [script, file], { maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(stderr.trim() || err.message));
      else {
        try {
          resolvePromise(JSON.parse(stdout));
        } catch (e) {
          reject(e as Error);
        }
      }
    });
  });
}

const PROGRAM_KEYS = ['command', 'shell', 'cwd', 'env', 'instances', 'restart', 'after', 'ready', 'readyTimeout', 'activityTimeout', 'memoryLimit', 'killSignal', 'killTimeout', 'logs', 'backoff', ...OPS_KEYS];
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2'];
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Validates a parsed config object; `file` anchors relative paths. Throws ConfigError. */
export function validateConfig(raw: unknown, file: string): DaemonConfig {
  const problems: string[] = [];
  const v = new Validator(problems);
  const base = dirname(file);
  if (!isObject(raw)) throw new ConfigError([`(root): expected an object with 'programs', got ${show(raw)}`], file);
  v.keys(raw, '', ['home', 'dashboard', 'supervisor', 'programs', 'queue']);
  const queue = raw.queue === undefined ? undefined : queueConfig(raw.queue, base, v, problems);

  const home = raw.home === undefined ? resolve(base, '.bosun') : resolve(base, v.string(raw.home, 'home') ?? '.bosun');

  let dashboard: DaemonConfig['dashboard'] = { host: '127.0.0.1', port: 9615 };
  if (raw.dashboard === false) dashboard = false;
  else if (raw.dashboard !== undefined) {
    if (v.object(raw.dashboard, 'dashboard')) {
      const d = raw.dashboard as Record<string, unknown>;
      v.keys(d, 'dashboard', ['host', 'port']);
      const host = d.host === undefined ? '127.0.0.1' : v.string(d.host, 'dashboard.host') ?? '127.0.0.1';
      const port = d.port === undefined ? 9615 : v.int(d.port, 'dashboard.port', 0, 65535) ?? 9615;
      dashboard = { host, port };
    }
  }

  let strategy: Strategy = 'one_for_one';
  let intensity = 5;
  let periodMs = 30_000;
  let backoff: Backoff = { initialMs: 100, factor: 2, maxMs: 30_000, resetAfterMs: 30_000 };
  if (raw.supervisor !== undefined && v.object(raw.supervisor, 'supervisor')) {
    const s = raw.supervisor as Record<string, unknown>;
    v.keys(s, 'supervisor', ['strategy', 'intensity', 'period', 'backoff']);
    if (s.strategy !== undefined) strategy = (v.oneOf(s.strategy, 'supervisor.strategy', STRATEGIES) as Strategy | undefined) ?? strategy;
    if (s.intensity !== undefined) intensity = v.int(s.intensity, 'supervisor.intensity', 0) ?? intensity;
    if (s.period !== undefined) periodMs = v.duration(s.period, 'supervisor.period') ?? periodMs;
    if (s.backoff !== undefined) backoff = v.backoff(s.backoff, 'supervisor.backoff', backoff);
  }

  const programs: ProgramConfig[] = [];
  const rawPrograms = raw.programs;
  if (rawPrograms === undefined) problems.push('programs: required');
  else if (v.object(rawPrograms, 'programs')) {
    const entries = Object.entries(rawPrograms as Record<string, unknown>);
    if (entries.length === 0) problems.push('programs: expected at least one program');
    for (const [name, p] of entries) {
      const path = `programs.${name}`;
      if (!NAME.test(name)) problems.push(`${path}: a program name may hold letters, digits, '_', '-' and '.' only`);
      if (!v.object(p, path)) continue;
      const prog = p as Record<string, unknown>;
      v.keys(prog, path, PROGRAM_KEYS);
      const shell = prog.shell === undefined ? false : v.bool(prog.shell, `${path}.shell`) ?? false;
      let command: string[] = [];
      if (prog.command === undefined) problems.push(`${path}.command: required`);
      else if (typeof prog.command === 'string') {
        command = shell ? [prog.command] : prog.command.split(' ').filter((s) => s !== '');
        if (command.length === 0) problems.push(`${path}.command: expected a non-empty command`);
      } else if (Array.isArray(prog.command)) {
        if (prog.command.length === 0) problems.push(`${path}.command: expected a non-empty argv array`);
        prog.command.forEach((a, i) => {
          if (typeof a === 'string' || typeof a === 'number') command.push(String(a));
          else problems.push(`${path}.command[${i}]: expected a string, got ${show(a)}`);
        });
      } else problems.push(`${path}.command: expected an argv array or a string, got ${show(prog.command)}`);
      const env: Record<string, string> = {};
      if (prog.env !== undefined && v.object(prog.env, `${path}.env`)) {
        for (const [k, val] of Object.entries(prog.env as Record<string, unknown>)) {
          if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') env[k] = String(val);
          else problems.push(`${path}.env.${k}: expected a string, got ${show(val)}`);
        }
      }
      const after: string[] = [];
      if (prog.after !== undefined && v.array(prog.after, `${path}.after`)) {
        (prog.after as unknown[]).forEach((a, i) => {
          if (typeof a !== 'string') problems.push(`${path}.after[${i}]: expected a program name, got ${show(a)}`);
          else if (!Object.hasOwn(rawPrograms as object, a)) problems.push(`${path}.after[${i}]: unknown program '${a}'`);
          else if (a === name) problems.push(`${path}.after[${i}]: a program cannot wait for itself`);
          else after.push(a);
        });
      }
      const logs = { file: undefined as string | undefined, maxSize: 10 * 2 ** 20, keep: 5 };
      if (prog.logs !== undefined && v.object(prog.logs, `${path}.logs`)) {
        const l = prog.logs as Record<string, unknown>;
        v.keys(l, `${path}.logs`, ['file', 'maxSize', 'keep']);
        if (l.file !== undefined) {
          const f = v.string(l.file, `${path}.logs.file`);
          if (f !== undefined) logs.file = resolve(base, f);
        }
        if (l.maxSize !== undefined) logs.maxSize = v.size(l.maxSize, `${path}.logs.maxSize`) ?? logs.maxSize;
        if (l.keep !== undefined) logs.keep = v.int(l.keep, `${path}.logs.keep`, 0) ?? logs.keep;
      }
      const cwd = prog.cwd === undefined ? base : resolve(base, v.string(prog.cwd, `${path}.cwd`) ?? '.');
      const cfg: ProgramConfig = {
        name,
        command,
        shell,
        cwd,
        instances: prog.instances === undefined ? 1 : v.int(prog.instances, `${path}.instances`, 1) ?? 1,
        restart: prog.restart === undefined ? 'always' : (v.oneOf(prog.restart, `${path}.restart`, ['always', 'on-failure', 'never']) as ProgramConfig['restart']) ?? 'always',
        after,
        killSignal: prog.killSignal === undefined ? 'SIGTERM' : (v.oneOf(prog.killSignal, `${path}.killSignal`, SIGNALS) as NodeJS.Signals) ?? 'SIGTERM',
        killTimeoutMs: prog.killTimeout === undefined ? 5000 : v.duration(prog.killTimeout, `${path}.killTimeout`) ?? 5000,
        readyTimeoutMs: prog.readyTimeout === undefined ? 60_000 : v.duration(prog.readyTimeout, `${path}.readyTimeout`, 1) ?? 60_000,
        logs,
        backoff: prog.backoff === undefined ? backoff : v.backoff(prog.backoff, `${path}.backoff`, backoff),
        intensity,
        periodMs,
        ...validateOps(v, problems, prog, path, base, cwd, env),
      };
      if (prog.ready !== undefined) cfg.ready = v.ready(prog.ready, `${path}.ready`);
      if (prog.activityTimeout !== undefined) cfg.activityTimeoutMs = v.duration(prog.activityTimeout, `${path}.activityTimeout`, 1);
      if (prog.memoryLimit !== undefined) cfg.memoryLimitBytes = v.size(prog.memoryLimit, `${path}.memoryLimit`, 1);
      programs.push(cfg);
    }
    for (const cycle of findCycles(programs)) problems.push(`programs.${cycle[0]}.after: dependency cycle ${[...cycle, cycle[0]].join(' -> ')}`);
  }
  if (problems.length > 0) throw new ConfigError(problems, file);
  return { file, home, strategy, dashboard, programs, ...(queue !== undefined ? { queue } : {}) };
}

/** Every dependency cycle once, each starting at its first program in file order. */
function findCycles(programs: ProgramConfig[]): string[][] {
  const byName = new Map(programs.map((p) => [p.name, p]));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[][] = [];
  const stack: string[] = [];
  const visit = (name: string) => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of byName.get(name)?.after ?? []) {
      const s = state.get(dep);
      if (s === 'visiting') cycles.push(stack.slice(stack.indexOf(dep)));
      else if (s === undefined) visit(dep);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const p of programs) if (!state.has(p.name)) visit(p.name);
  return cycles;
}

function queueConfig(x: unknown, base: string, v: Validator, problems: string[]): QueueConfig | undefined {
  if (!v.object(x, 'queue')) return undefined;
  const q = x as Record<string, unknown>;
  v.keys(q, 'queue', ['database', 'pglite', 'schema']);
  if ((q.database === undefined) === (q.pglite === undefined)) {
    problems.push(`queue: expected exactly one of database (a PostgreSQL URL) or pglite (a directory), got ${q.database === undefined ? 'neither' : 'both'}`);
    return undefined;
  }
  if (q.pglite !== undefined) {
    if (q.schema !== undefined) problems.push('queue.schema: only with queue.database (a PGlite queue has one schema)');
    const dir = v.string(q.pglite, 'queue.pglite');
    return dir === undefined ? undefined : { pglite: resolve(base, dir) };
  }
  const database = v.string(q.database, 'queue.database');
  const schema = q.schema === undefined ? undefined : v.string(q.schema, 'queue.schema');
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(schema)) problems.push(`queue.schema: expected a plain identifier (letters, digits, _), got '${schema}'`);
  return database === undefined ? undefined : { database, ...(schema !== undefined ? { schema } : {}) };
}

// The daemon's config file: finding it, loading it (yaml, json, js/mjs default export) and
// validating it into a normalized form. Every problem is reported as one line starting with
// its exact path (`programs.api.restart: expected ...`), so a bad file starts nothing.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { BosunError } from '../core/errors.js';
import { findCycles } from '../core/graph.js';
import { duplicateJsonKeys } from './json-keys.js';
import { programLogFile } from './log-files.js';
import { preflight } from './preflight.js';
import { joinShellWords, splitShellWords, ShellWordsError } from './shell-words.js';
import { Validator, isObject, show } from './validator.js';
import { OPS_KEYS, validateOps, type OpsConfig } from './config-ops.js';
import { fleetSettings, placementOf, type FleetSettings, type Placement } from './fleet-config.js';

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
  /** A start not ready by then fails with reason ready-timeout. Default 60 s. */
  readyTimeoutMs: number;
  activityTimeoutMs?: number;
  memoryLimitBytes?: number;
  killSignal: NodeJS.Signals;
  killTimeoutMs: number;
  logs: { file?: string; maxSize: number; keep: number };
  backoff: Backoff;
  intensity: number;
  periodMs: number;
  /** `singleton`: runs on one host of the fleet at a time (needs `fleet`). Absent: on every host. */
  placement?: Placement;
}

/** What a crash that the policy restarts does to the other programs (OTP's meanings, in start order). */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export const STRATEGIES: Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

export interface DaemonConfig {
  /** Absolute path of the file it came from; '' when validated from an object without one. */
  file: string;
  home: string;
  /** Absent means one_for_one. */
  strategy?: Strategy;
  dashboard: { host: string; port: number } | false;
  /** The job queue that `bosun jobs` and the dashboard's queue page show, when configured. */
  queue?: QueueConfig;
  /** In the order the file lists them. */
  programs: ProgramConfig[];
  /** Daemons sharing one PostgreSQL: a fleet across hosts. */
  fleet?: FleetSettings;
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

/** Reads and validates `file`, file-system checks included; throws ConfigError listing every problem. */
export async function loadConfig(file: string, options: ValidateOptions = {}): Promise<DaemonConfig> {
  return validateConfig(await readConfig(file), file, options);
}

/** The parsed but unvalidated content of `file`; throws ConfigError when it cannot be read or parsed, or repeats a key. */
export async function readConfig(file: string): Promise<unknown> {
  let parsed: Parsed;
  try {
    parsed = await readConfigFile(file);
  } catch (err) {
    throw new ConfigError([`${file}: ${(err as Error).message.split('\n')[0]}`], file);
  }
  if ('problems' in parsed) throw new ConfigError(parsed.problems, file);
  return parsed.value;
}

type Parsed = { value: unknown } | { problems: string[] };

async function readConfigFile(file: string): Promise<Parsed> {
  const ext = extname(file);
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') {
    // A query string defeats the module cache so `reload` sees the edited file.
    const mod = (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as { default?: unknown };
    return { value: mod.default };
  }
  if (ext === '.json') return parseJson(readFileSync(file, 'utf8'));
  return parseYamlElsewhere(file);
}

/** JSON.parse, plus what it keeps quiet: where a syntax error is, and keys given twice. */
function parseJson(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const at = /at position (\d+)/.exec((err as Error).message);
    if (at === null) throw err;
    const before = text.slice(0, Number(at[1]));
    const line = before.split('\n').length;
    throw new Error(`${(err as Error).message} (line ${line}, column ${before.length - before.lastIndexOf('\n')})`);
  }
  const dups = duplicateJsonKeys(text);
  if (dups.length > 0)
    return { problems: dups.map((d) => `${d.path === '' ? '(root)' : d.path}: duplicate key '${d.key}' (line ${d.line})`) };
  return { value };
}

/** YAML parsed by a child process (see yaml-to-json.ts): the daemon stays free of the parser. */
function parseYamlElsewhere(file: string): Promise<Parsed> {
  const script = fileURLToPath(new URL('./yaml-to-json.js', import.meta.url));
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [script, file], { maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(stderr.trim() || err.message));
      else {
        try {
          resolvePromise(JSON.parse(stdout) as Parsed);
        } catch (e) {
          reject(e as Error);
        }
      }
    });
  });
}

const PROGRAM_KEYS = [
  'command',
  'shell',
  'cwd',
  'env',
  'instances',
  'restart',
  'after',
  'ready',
  'readyTimeout',
  'activityTimeout',
  'memoryLimit',
  'killSignal',
  'killTimeout',
  'logs',
  'backoff',
  ...OPS_KEYS,
  'placement',
];
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2'];
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** More would not be a fleet but a fork bomb: each instance is a process, a log file and timers. */
export const MAX_INSTANCES = 1024;
const MAX_KEEP = 1000;
/** The kernel refuses (E2BIG) a single argument or environment string longer than this. */
const MAX_ARG_BYTES = 128 * 1024;

export interface ValidateOptions {
  /**
   * Check the file system too: each cwd exists, each command is on PATH or a file, a node
   * script exists, no two logs are one file. Default true; policy tests that spawn fake
   * children turn it off.
   */
  checkFiles?: boolean;
  /** The home the daemon will use when it is not the config's (`--home`); log paths depend on it. */
  home?: string;
}

/**
 * Validates a parsed config object; relative paths resolve against `file`'s folder (or the
 * working directory without a file). Throws ConfigError listing every problem.
 */
export function validateConfig(raw: unknown, file?: string, options: ValidateOptions = {}): DaemonConfig {
  const problems: string[] = [];
  const v = new Validator(problems);
  const base = file === undefined ? process.cwd() : dirname(file);
  const label = file ?? '(object)';
  if (!isObject(raw)) throw new ConfigError([`(root): expected an object with 'programs', got ${show(raw)}`], label);
  v.keys(raw, '', ['home', 'dashboard', 'supervisor', 'programs', 'queue', 'fleet']);
  const queue = raw.queue === undefined ? undefined : queueConfig(raw.queue, base, v, problems);

  const configHome = raw.home === undefined ? resolve(base, '.bosun') : resolve(base, v.string(raw.home, 'home') ?? '.bosun');
  const home = options.home ?? configHome;

  let dashboard: DaemonConfig['dashboard'] = { host: '127.0.0.1', port: 9615 };
  if (raw.dashboard === false) dashboard = false;
  else if (raw.dashboard !== undefined) {
    if (v.object(raw.dashboard, 'dashboard')) {
      const d = raw.dashboard as Record<string, unknown>;
      v.keys(d, 'dashboard', ['host', 'port']);
      const host = d.host === undefined ? '127.0.0.1' : (v.string(d.host, 'dashboard.host') ?? '127.0.0.1');
      const port = d.port === undefined ? 9615 : (v.int(d.port, 'dashboard.port', 0, 65535) ?? 9615);
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

  const fleet = fleetSettings(raw.fleet, v, problems);

  const programs: ProgramConfig[] = [];
  const rawPrograms = raw.programs;
  if (rawPrograms === undefined) problems.push('programs: required');
  else if (v.object(rawPrograms, 'programs')) {
    const entries = Object.entries(rawPrograms as Record<string, unknown>);
    if (entries.length === 0) problems.push('programs: expected at least one program');
    const shared = { base, names: rawPrograms as object, backoff, intensity, periodMs };
    for (const [name, p] of entries) {
      const cfg = validateProgram(v, problems, name, p, shared);
      if (cfg === undefined) continue;
      const placement = placementOf(
        (p as Record<string, unknown>).placement,
        `programs.${name}`,
        cfg,
        fleet,
        raw.fleet !== undefined,
        v,
        problems,
      );
      if (placement !== undefined) cfg.placement = placement;
      programs.push(cfg);
    }
    for (const cycle of programCycles(programs))
      problems.push(`programs.${cycle[0]}.after: dependency cycle ${[...cycle, cycle[0]].join(' -> ')}`);
    sharedLogProblems(home, programs, problems);
    if (options.checkFiles !== false) preflight(home, programs, problems);
  }
  if (problems.length > 0) throw new ConfigError(problems, label);
  return {
    file: file ?? '',
    home,
    strategy,
    dashboard,
    programs,
    ...(queue !== undefined ? { queue } : {}),
    ...(fleet === undefined ? {} : { fleet }),
  };
}

interface ProgramDefaults {
  base: string;
  /** The `programs` object, for `after` to name programs later in the file. */
  names: object;
  backoff: Backoff;
  intensity: number;
  periodMs: number;
}

function validateProgram(v: Validator, problems: string[], name: string, p: unknown, d: ProgramDefaults): ProgramConfig | undefined {
  const path = `programs.${name}`;
  if (!NAME.test(name)) problems.push(`${path}: a program name may hold letters, digits, '_', '-' and '.' only`);
  if (!v.object(p, path)) return undefined;
  const prog = p as Record<string, unknown>;
  v.keys(prog, path, PROGRAM_KEYS);
  const shell = prog.shell === undefined ? false : (v.bool(prog.shell, `${path}.shell`) ?? false);
  const command = validateCommand(v, problems, prog.command, `${path}.command`, shell);
  const env: Record<string, string> = {};
  if (prog.env !== undefined && v.object(prog.env, `${path}.env`)) {
    for (const [k, val] of Object.entries(prog.env as Record<string, unknown>)) {
      const at = `${path}.env.${k}`;
      if (k === '' || k.includes('=')) problems.push(`${at}: an environment variable name cannot ${k === '' ? 'be empty' : "contain '='"}`);
      else if (!v.cString(k, at, 'the name')) continue;
      else if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean')
        problems.push(`${at}: expected a string, got ${show(val)}`);
      else if (v.cString(String(val), at, 'the value')) {
        if (k.length + String(val).length + 1 >= MAX_ARG_BYTES)
          problems.push(`${at}: longer than the kernel takes for one variable (${MAX_ARG_BYTES} bytes)`);
        else env[k] = String(val);
      }
    }
  }
  const after: string[] = [];
  if (prog.after !== undefined && v.array(prog.after, `${path}.after`)) {
    (prog.after as unknown[]).forEach((a, i) => {
      if (typeof a !== 'string') problems.push(`${path}.after[${i}]: expected a program name, got ${show(a)}`);
      else if (!Object.hasOwn(d.names, a)) problems.push(`${path}.after[${i}]: unknown program '${a}'`);
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
      if (f !== undefined && v.cString(f, `${path}.logs.file`, 'the path')) logs.file = resolve(d.base, f);
    }
    if (l.maxSize !== undefined) logs.maxSize = v.size(l.maxSize, `${path}.logs.maxSize`) ?? logs.maxSize;
    if (l.keep !== undefined) logs.keep = v.int(l.keep, `${path}.logs.keep`, 0, MAX_KEEP) ?? logs.keep;
  }
  let cwd = d.base;
  if (prog.cwd !== undefined) {
    const c = v.string(prog.cwd, `${path}.cwd`);
    if (c !== undefined && v.cString(c, `${path}.cwd`, 'the path')) cwd = resolve(d.base, c);
  }
  const cfg: ProgramConfig = {
    name,
    command,
    shell,
    cwd,
    instances: prog.instances === undefined ? 1 : (v.int(prog.instances, `${path}.instances`, 1, MAX_INSTANCES) ?? 1),
    restart:
      prog.restart === undefined
        ? 'always'
        : ((v.oneOf(prog.restart, `${path}.restart`, ['always', 'on-failure', 'never']) as ProgramConfig['restart']) ?? 'always'),
    after,
    readyTimeoutMs: prog.readyTimeout === undefined ? 60_000 : (v.duration(prog.readyTimeout, `${path}.readyTimeout`, 1) ?? 60_000),
    killSignal:
      prog.killSignal === undefined
        ? 'SIGTERM'
        : ((v.oneOf(prog.killSignal, `${path}.killSignal`, SIGNALS) as NodeJS.Signals) ?? 'SIGTERM'),
    killTimeoutMs: prog.killTimeout === undefined ? 5000 : (v.duration(prog.killTimeout, `${path}.killTimeout`) ?? 5000),
    logs,
    backoff: prog.backoff === undefined ? d.backoff : v.backoff(prog.backoff, `${path}.backoff`, d.backoff),
    intensity: d.intensity,
    periodMs: d.periodMs,
    // listen, rolling, envFile (read into env, under the program's own), watch, cronRestart.
    ...validateOps(v, problems, prog, path, d.base, cwd, env),
  };
  if (prog.ready !== undefined) cfg.ready = v.ready(prog.ready, `${path}.ready`);
  if (prog.activityTimeout !== undefined) cfg.activityTimeoutMs = v.duration(prog.activityTimeout, `${path}.activityTimeout`, 1);
  if (prog.memoryLimit !== undefined) cfg.memoryLimitBytes = v.size(prog.memoryLimit, `${path}.memoryLimit`);
  return cfg;
}

/**
 * The argv to spawn. A string is split into words as sh would (quotes, backslashes); with
 * `shell: true` the command is one sh script, an array's items each quoted as one word.
 */
function validateCommand(v: Validator, problems: string[], raw: unknown, path: string, shell: boolean): string[] {
  if (raw === undefined) {
    problems.push(`${path}: required`);
    return [];
  }
  if (typeof raw === 'string') {
    if (!v.cString(raw, path, 'the command')) return [];
    if (shell) {
      if (raw.trim() === '') problems.push(`${path}: expected a non-empty command`);
      return [raw];
    }
    let words: string[] = [];
    try {
      words = splitShellWords(raw);
    } catch (err) {
      if (!(err instanceof ShellWordsError)) throw err;
      problems.push(`${path}: ${err.message}`);
      return [];
    }
    if (words.length === 0) problems.push(`${path}: expected a non-empty command`);
    words.forEach(
      (w) =>
        Buffer.byteLength(w) >= MAX_ARG_BYTES &&
        problems.push(`${path}: a word is longer than the kernel takes for one argument (${MAX_ARG_BYTES} bytes)`),
    );
    return words;
  }
  if (!Array.isArray(raw)) {
    problems.push(`${path}: expected an argv array or a string, got ${show(raw)}`);
    return [];
  }
  if (raw.length === 0) problems.push(`${path}: expected a non-empty argv array`);
  const argv: string[] = [];
  raw.forEach((a: unknown, i) => {
    if (typeof a !== 'string' && typeof a !== 'number') problems.push(`${path}[${i}]: expected a string, got ${show(a)}`);
    else if (!v.cString(String(a), `${path}[${i}]`, 'the argument')) return;
    else if (Buffer.byteLength(String(a)) >= MAX_ARG_BYTES)
      problems.push(`${path}[${i}]: longer than the kernel takes for one argument (${MAX_ARG_BYTES} bytes)`);
    else argv.push(String(a));
  });
  return shell && argv.length > 0 ? [joinShellWords(argv)] : argv;
}

/**
 * Two instances writing one file would interleave and rotate each other's lines away, so every
 * log path (and daemon.log) must be unique, rotated names included. Reported at the program
 * that named the file.
 */
function sharedLogProblems(home: string, programs: ProgramConfig[], problems: string[]): void {
  interface Owner {
    what: string;
    program?: string;
    keep: number;
  }
  const owners = new Map<string, Owner>([[join(home, 'daemon.log'), { what: "the daemon's own log", keep: 5 }]]);
  for (const p of programs) {
    for (let i = 0; i < p.instances; i++) {
      const file = programLogFile(home, p, i).path;
      const numbered = /^(.*)\.(\d+)$/.exec(file);
      const rotatedOf = numbered === null ? undefined : owners.get(numbered[1]!);
      const owner =
        owners.get(file) ??
        (rotatedOf !== undefined && Number(numbered![2]) <= rotatedOf.keep
          ? { ...rotatedOf, what: `a rotated file of ${rotatedOf.what}` }
          : undefined);
      if (owner !== undefined) {
        // Blame the program that named the file: a default path is only taken by an explicit one.
        const [at, other] =
          p.logs.file === undefined && owner.program !== undefined ? [owner.program, `the log of ${p.name}[${i}]`] : [p.name, owner.what];
        problems.push(`programs.${at}.logs.file: '${file}' is also ${other}; give each program its own file`);
        break;
      }
      owners.set(file, { what: `the log of ${p.name}[${i}]`, program: p.name, keep: p.logs.keep });
    }
  }
}

/** Every dependency cycle once, each starting where a walk in file order entered it (core's one cycle finder). */
function programCycles(programs: ProgramConfig[]): string[][] {
  const byName = new Map(programs.map((p) => [p.name, p]));
  return findCycles(byName.keys(), (name) => (byName.get(name)?.after ?? []).filter((d) => byName.has(d)));
}

function queueConfig(x: unknown, base: string, v: Validator, problems: string[]): QueueConfig | undefined {
  if (!v.object(x, 'queue')) return undefined;
  const q = x as Record<string, unknown>;
  v.keys(q, 'queue', ['database', 'pglite', 'schema']);
  if ((q.database === undefined) === (q.pglite === undefined)) {
    problems.push(
      `queue: expected exactly one of database (a PostgreSQL URL) or pglite (a directory), got ${q.database === undefined ? 'neither' : 'both'}`,
    );
    return undefined;
  }
  if (q.pglite !== undefined) {
    if (q.schema !== undefined) problems.push('queue.schema: only with queue.database (a PGlite queue has one schema)');
    const dir = v.string(q.pglite, 'queue.pglite');
    return dir === undefined ? undefined : { pglite: resolve(base, dir) };
  }
  const database = v.string(q.database, 'queue.database');
  const schema = q.schema === undefined ? undefined : v.string(q.schema, 'queue.schema');
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(schema))
    problems.push(`queue.schema: expected a plain identifier (letters, digits, _), got '${schema}'`);
  return database === undefined ? undefined : { database, ...(schema !== undefined ? { schema } : {}) };
}

// Options in sparts' style: each task declares typed options; the service exposes them as
// `--<task>-<option>` flags and `<SERVICE>_<TASK>_<OPTION>` variables. Flags win over the
// environment, which wins over defaults. A bad value is reported naming where it came from.

import { parseDuration } from '../core/duration.js';
import { OptionError } from './errors.js';

export type OptionType = 'string' | 'number' | 'integer' | 'boolean' | 'duration';
export type OptionValue = string | number | boolean;

export interface OptionSpec {
  /** `duration` takes ms as a number or a string such as "500ms", "5s", "2m", "1h". */
  type: OptionType;
  /** Value when neither flag nor variable is given; absent means the option is unset. */
  default?: OptionValue;
  /** One line for `--help`. */
  help?: string;
  /** Smallest allowed value (number, integer, duration). */
  min?: number;
  /** Allowed values (string). */
  choices?: readonly string[];
  /** Fail at start if the option has no value. Default false. */
  required?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** One group of options: a task's, or the service's own (empty prefix). */
export interface OptionGroup {
  title: string;
  /** Kebab-case flag prefix, e.g. "fetch-task"; "" for service-level options. */
  prefix: string;
  specs: OptionSpecs;
}

export interface ResolvedOptions {
  /** Values per group title. */
  values: Map<string, Record<string, OptionValue | undefined>>;
  errors: OptionError[];
  help: boolean;
  /** Arguments that are not flags. */
  positional: string[];
}

/** "FetchTask" → "fetch-task", "maxFailures" → "max-failures", "HTTPServer" → "http-server". */
export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/[_\s.]+/g, '-')
    .toLowerCase();
}

/** "fetch-task" or "FetchTask" → "FETCH_TASK". */
export function upperSnake(name: string): string {
  return kebab(name).replace(/-+/g, '_').toUpperCase();
}

export function flagName(prefix: string, option: string): string {
  return prefix === '' ? `--${kebab(option)}` : `--${prefix}-${kebab(option)}`;
}

export function envName(service: string, prefix: string, option: string): string {
  return [service, prefix, option]
    .filter((p) => p !== '')
    .map(upperSnake)
    .join('_');
}

/** Parses "250", "250ms", "1.5s", "2m", "1h", "1d" into ms; undefined when malformed. Core's, re-exported. */
export { parseDuration } from '../core/duration.js';

export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Converts one raw value; returns an error message (without the source) if it is bad. */
function convert(spec: OptionSpec, raw: string | true): OptionValue | string[] {
  if (spec.type === 'boolean') {
    if (raw === true) return true;
    const t = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(t)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
    return [`expected true or false, got "${raw}"`];
  }
  if (raw === true) return [`needs a value`];
  let value: OptionValue;
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) return [`expected one of ${spec.choices.join(', ')}, got "${raw}"`];
      return raw;
    case 'number':
    case 'integer': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n)) return [`expected a number, got "${raw}"`];
      if (spec.type === 'integer' && !Number.isInteger(n)) return [`expected an integer, got "${raw}"`];
      value = n;
      break;
    }
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) return [`expected a duration (ms, or e.g. 500ms, 5s, 2m), got "${raw}"`];
      value = ms;
      break;
    }
  }
  if (spec.min !== undefined && value < spec.min) return [`must be at least ${spec.min}, got "${raw}"`];
  return value;
}

/**
 * Resolves every group's options from `argv` and `env`. Never throws for user input: bad
 * values and unknown flags come back in `errors`, each naming its flag or variable.
 */
export function resolveOptions(
  serviceName: string,
  groups: OptionGroup[],
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ResolvedOptions {
  const byFlag = new Map<string, { group: OptionGroup; option: string; spec: OptionSpec }>();
  for (const group of groups) {
    for (const [option, spec] of Object.entries(group.specs)) byFlag.set(flagName(group.prefix, option), { group, option, spec });
  }
  const errors: OptionError[] = [];
  const fromFlags = new Map<string, string | true>();
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let flag = eq === -1 ? arg : arg.slice(0, eq);
    let raw: string | true = eq === -1 ? true : arg.slice(eq + 1);
    let known = byFlag.get(flag);
    if (known === undefined && eq === -1 && flag.startsWith('--no-')) {
      const positive = byFlag.get('--' + flag.slice(5));
      if (positive?.spec.type === 'boolean') {
        flag = '--' + flag.slice(5);
        known = positive;
        raw = 'false';
      }
    }
    if (known === undefined) {
      errors.push(new OptionError(`unknown flag ${flag} (see --help)`));
      continue;
    }
    if (raw === true && known.spec.type !== 'boolean') {
      const next = argv[i + 1];
      if (next !== undefined && !(next.startsWith('--') && next.length > 2)) {
        raw = next;
        i++;
      }
    }
    fromFlags.set(flag, raw);
  }

  const values = new Map<string, Record<string, OptionValue | undefined>>();
  for (const group of groups) {
    const out: Record<string, OptionValue | undefined> = {};
    for (const [option, spec] of Object.entries(group.specs)) {
      const flag = flagName(group.prefix, option);
      const variable = envName(serviceName, group.prefix, option);
      let source: string | undefined;
      let raw: string | true | undefined;
      if (fromFlags.has(flag)) {
        raw = fromFlags.get(flag)!;
        source = flag;
      } else if (env[variable] !== undefined) {
        raw = env[variable]!;
        source = `environment variable ${variable}`;
      }
      if (raw === undefined) {
        out[option] = spec.default;
        if (spec.default === undefined && spec.required) {
          errors.push(new OptionError(`${flag} is required (or set ${variable})`));
        }
        continue;
      }
      const value = convert(spec, raw);
      if (Array.isArray(value)) {
        errors.push(new OptionError(`invalid value for ${source}: ${value[0]}`));
        out[option] = spec.default;
      } else {
        out[option] = value;
      }
    }
    values.set(group.title, out);
  }
  return { values, errors, help, positional };
}

/** `--help` text: every group's options under its title, with type, default and variable. */
export function formatHelp(serviceName: string, groups: OptionGroup[]): string {
  const lines = [`Usage: ${serviceName} [options]`, ''];
  for (const group of groups) {
    const entries = Object.entries(group.specs);
    if (entries.length === 0) continue;
    lines.push(`${group.title}:`);
    for (const [option, spec] of entries) {
      const flag = `${flagName(group.prefix, option)}${spec.type === 'boolean' ? '' : ` <${spec.type}>`}`;
      const dflt =
        spec.default === undefined
          ? ''
          : ` (default: ${spec.type === 'duration' ? formatDuration(spec.default as number) : String(spec.default)})`;
      lines.push(`  ${flag.padEnd(40)} ${spec.help ?? ''}${dflt}`.trimEnd());
      lines.push(`  ${''.padEnd(40)} env ${envName(serviceName, group.prefix, option)}`);
    }
    lines.push('');
  }
  lines.push(`  ${'--help'.padEnd(40)} show this help and exit`);
  return lines.join('\n') + '\n';
}

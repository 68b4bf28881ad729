// The shape of a daemon config as written by hand, and `defineConfig` to type one written in
// JavaScript. Kept free of imports so the root `bosun` entry can export it without loading
// anything of the daemon.

type Duration = number | string;
type Size = number | string;

/** A readiness check: a log line matching a pattern, an HTTP URL answering 2xx, an IPC 'ready' message, or a delay. */
export type ReadyInput = { log: string } | { http: string } | { message: true } | { delay: Duration };

export interface BackoffInput {
  initial?: Duration;
  factor?: number;
  max?: Duration;
  /** Running this long without a crash resets the backoff to `initial`. Default 30s. */
  resetAfter?: Duration;
}

export interface ProgramInput {
  /** argv array, or a string split on spaces (no shell unless `shell: true`). */
  command: string[] | string;
  shell?: boolean;
  /** Default: the config file's folder. */
  cwd?: string;
  /** Added to the daemon's environment. */
  env?: Record<string, string | number | boolean>;
  /** Default 1; instances are numbered from 0. */
  instances?: number;
  /** Default always. */
  restart?: 'always' | 'on-failure' | 'never';
  /** Programs that must be ready before this one starts. */
  after?: string[];
  ready?: ReadyInput;
  activityTimeout?: Duration;
  memoryLimit?: Size;
  /** Default SIGTERM. */
  killSignal?: NodeJS.Signals;
  /** Default 5s; then SIGKILL. */
  killTimeout?: Duration;
  /** Default { maxSize: 10MB, keep: 5 }. */
  logs?: { file?: string; maxSize?: Size; keep?: number };
  /** Overrides the supervisor's backoff for this program. */
  backoff?: BackoffInput;
  /**
   * Sockets bound once by the daemon and handed to every instance as fds 3, 4, ... with
   * LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (sd_listen_fds): `3000`, `"127.0.0.1:3000"`,
   * `"[::1]:3000"` or `"unix:run/web.sock"`.
   */
  listen?: (string | number)[];
  /** Restarts, reloads, watch and cron restarts replace one instance at a time, each once its replacement is ready. */
  rolling?: boolean;
  /** A dotenv file read into the environment; `env` wins over it. A missing file is a config error. */
  envFile?: string;
  /** Restart on file changes: `true` watches `cwd`; node_modules, .git and the home are never watched. Default debounce 500ms. */
  watch?: boolean | { paths?: string[]; ignore?: string[]; debounce?: Duration };
  /** Restart on a schedule (croner syntax; 6 fields put seconds first). */
  cronRestart?: string;
  /** `singleton`: runs on exactly one host of the fleet at a time, standby on the others (needs `fleet`). */
  placement?: 'singleton';
}

export interface FleetInput {
  /** The PostgreSQL URL every daemon of the fleet shares (not PGlite: it cannot be shared). */
  database: string;
  /** This daemon's name in the fleet; default the machine's hostname. */
  host?: string;
  /** A singleton's lease; also how old a host's status may get before it shows as unreachable. Default 15s. */
  leaseTtl?: Duration;
  /** Schema holding the fleet's tables and leases. Default bosun. */
  schema?: string;
}

export interface ConfigInput {
  /** Default ./.bosun beside the config file. */
  home?: string;
  /** Default { host: 127.0.0.1, port: 9615 }; port 0 picks a free port; false turns it off. */
  dashboard?: { host?: string; port?: number } | false;
  supervisor?: { strategy?: 'one_for_one' | 'one_for_all' | 'rest_for_one'; intensity?: number; period?: Duration; backoff?: BackoffInput };
  programs: Record<string, ProgramInput>;
  /** Daemons on several hosts sharing one PostgreSQL: one view of every host, singleton programs. */
  fleet?: FleetInput;
}

/** Types a config written in JavaScript: `export default defineConfig({ programs: {...} })`. */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}

// What the dashboard shows of a program's config: how it is run (command, cwd, the names of
// its environment variables, never their values), its sockets and schedules, and its restart
// settings. Sent only to token holders (it names commands and paths); env values stay out
// altogether, as they hold secrets and a browser tab is a poor place to keep them.

import type { DaemonConfig, ProgramConfig, Ready } from '../../fleet/config.js';
import { argvOf } from '../../fleet/instance.js';
import { programLogFile } from '../../fleet/log-files.js';

/** A key some configs carry beyond ProgramConfig's (a fleet across hosts adds `placement`): shown when present. */
interface OptionalKeys {
  placement?: string;
}

export interface ProgramInfo {
  name: string;
  /** The argv as spawned (`/bin/sh -c ...` with `shell: true`). */
  command: string[];
  shell: boolean;
  cwd: string;
  /** Names only, sorted; BOSUN_PROGRAM and BOSUN_INSTANCE are always set too. */
  envKeys: string[];
  envFile?: string;
  instances: number;
  restart: ProgramConfig['restart'];
  after: string[];
  ready?: string;
  readyTimeoutMs: number;
  activityTimeoutMs?: number;
  memoryLimitBytes?: number;
  killSignal: string;
  killTimeoutMs: number;
  backoff: { initialMs: number; factor: number; maxMs: number };
  intensity: number;
  periodMs: number;
  /** Sockets the daemon binds and hands to every instance, as written (`3000`, `127.0.0.1:3000`, `unix:/run/x.sock`). */
  listen: string[];
  rolling: boolean;
  watch?: { paths: string[]; ignore: string[]; debounceMs: number };
  /** Restart schedule (croner syntax). */
  cronRestart?: string;
  placement?: string;
  /** One log file per instance, by index. */
  logFiles: string[];
}

export function programInfos(config: DaemonConfig): ProgramInfo[] {
  return config.programs.map((c) => programInfo(config.home, c));
}

export function programInfo(home: string, c: ProgramConfig): ProgramInfo {
  const o = c as ProgramConfig & OptionalKeys;
  const info: ProgramInfo = {
    name: c.name,
    command: [...argvOf(c)],
    shell: c.shell,
    cwd: c.cwd,
    envKeys: Object.keys(c.env).sort(),
    instances: c.instances,
    restart: c.restart,
    after: [...c.after],
    readyTimeoutMs: c.readyTimeoutMs,
    killSignal: c.killSignal,
    killTimeoutMs: c.killTimeoutMs,
    backoff: { initialMs: c.backoff.initialMs, factor: c.backoff.factor, maxMs: c.backoff.maxMs },
    intensity: c.intensity,
    periodMs: c.periodMs,
    listen: c.listen.map((l) => l.text),
    rolling: c.rolling,
    logFiles: Array.from({ length: c.instances }, (_, i) => programLogFile(home, c, i).path),
  };
  if (c.ready !== undefined) info.ready = readyText(c.ready);
  if (c.activityTimeoutMs !== undefined) info.activityTimeoutMs = c.activityTimeoutMs;
  if (c.memoryLimitBytes !== undefined) info.memoryLimitBytes = c.memoryLimitBytes;
  if (c.envFile !== undefined) info.envFile = c.envFile;
  if (c.watch !== undefined) info.watch = { paths: [...c.watch.paths], ignore: [...c.watch.ignore], debounceMs: c.watch.debounceMs };
  if (c.cronRestart !== undefined) info.cronRestart = c.cronRestart;
  if (o.placement !== undefined) info.placement = o.placement;
  return info;
}

function readyText(r: Ready): string {
  switch (r.kind) {
    case 'log':
      return `log /${r.pattern.source}/${r.pattern.flags}`;
    case 'http':
      return `http ${r.url}`;
    case 'message':
      return "message 'ready' (IPC)";
    case 'delay':
      return `delay ${r.ms}ms`;
  }
}

// `bosun startup [--install]`: a systemd unit that runs `bosun run <config>` for this home, so
// the fleet comes up at boot and the daemon is restarted if it dies. KillMode=process matches
// the daemon's adoption semantics: programs outlive a dead daemon and the next daemon adopts
// them, which the default KillMode (control-group: kill the whole cgroup once the main process
// is gone) would defeat. A clean `systemctl stop` still stops every program, because the daemon
// itself stops them in reverse start order on SIGTERM.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonConfig } from '../fleet/config.js';

export interface UnitOptions {
  /** Absolute path of the config file. */
  config: string;
  home: string;
  /** Seconds systemd waits for `systemctl stop` before it SIGKILLs what is left. */
  stopTimeoutS: number;
  /** A system unit (/etc/systemd/system) runs as `user`; a user unit (systemctl --user) as its owner. */
  system: boolean;
  user?: string;
  node?: string;
  cli?: string;
  path?: string;
}

/** The unit's file name: one per home, so several fleets on one machine get their own. */
export function unitName(config: string, home: string): string {
  const slug =
    basename(dirname(config))
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .replace(/^-+|-+$/g, '') || 'fleet';
  const tag = createHash('sha256').update(home).digest('hex').slice(0, 6);
  return `bosun-${slug}-${tag}.service`;
}

/** The text of the unit. */
export function systemdUnit(o: UnitOptions): string {
  const node = o.node ?? process.execPath;
  const cli = o.cli ?? fileURLToPath(new URL('./main.js', import.meta.url));
  const lines = [
    `# The bosun daemon for ${o.config} (home ${o.home}), written by \`bosun startup\`.`,
    '[Unit]',
    `Description=bosun fleet of ${o.config}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `WorkingDirectory=${quote(dirname(o.config))}`,
    `ExecStart=${[node, cli, 'run', o.config, '--home', o.home].map(quote).join(' ')}`,
    // Programs find their commands on PATH; systemd's own PATH is minimal.
    `Environment=${quote(`PATH=${o.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`)}`,
    ...(o.system && o.user !== undefined && o.user !== 'root' ? [`User=${o.user}`] : []),
    'Restart=always',
    'RestartSec=1',
    '# KillMode=process: when the daemon dies, systemd must not kill the programs with it. They',
    '# keep running, their output is kept, and the restarted daemon adopts them (same pids), so',
    '# a daemon crash or upgrade never restarts the fleet. `systemctl stop` signals the daemon',
    '# only, and the daemon stops every program in reverse start order before it exits.',
    'KillMode=process',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${o.stopTimeoutS}`,
    '',
    '[Install]',
    `WantedBy=${o.system ? 'multi-user.target' : 'default.target'}`,
    '',
  ];
  return lines.join('\n');
}

/** Prints the unit, or writes it (`install`) and prints the systemctl commands. Returns the exit code. */
export async function startupCommand(
  config: DaemonConfig,
  install: boolean,
  home: string | undefined,
  unitDir: string | undefined,
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const system = process.getuid?.() === 0;
  const theHome = home ?? config.home;
  // stop goes program by program, in reverse start order, each within its killTimeout.
  const stopTimeoutS = Math.ceil(config.programs.reduce((sum, p) => sum + p.killTimeoutMs, 0) / 1000) + 30;
  const user = process.env.SUDO_USER ?? userInfo().username;
  const unit = systemdUnit({ config: config.file, home: theHome, stopTimeoutS, system, user });
  const name = unitName(config.file, theHome);
  if (!install) {
    out(unit);
    return 0;
  }
  const dir =
    unitDir ?? (system ? '/etc/systemd/system' : join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'systemd', 'user'));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, unit, { mode: 0o644 });
  const ctl = system ? 'systemctl' : 'systemctl --user';
  out(
    [
      `wrote ${file}`,
      'stop a daemon started by hand first (`bosun shutdown`), then:',
      `  ${ctl} daemon-reload`,
      `  ${ctl} enable --now ${name}`,
      ...(system ? [] : [`  loginctl enable-linger ${user}    # so it starts at boot, without a login`]),
      `status: ${ctl} status ${name}; its output: journalctl ${system ? '' : '--user '}-u ${name}`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** A word of an ExecStart= line, quoted for systemd when it needs it (and `%`, systemd's specifier sign, doubled). */
function quote(word: string): string {
  const escaped = word.replace(/%/g, '%%');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$')}"`;
}

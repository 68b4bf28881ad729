#!/usr/bin/env node
// The bosun command line. `run` is the daemon in the foreground, `start` the same daemon
// detached; the other commands talk to it over <home>/bosun.sock and return once the action is
// done. Exit codes: 0 done, 1 failed, 2 bad usage or config, 3 no daemon running.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { CONFIG_NAMES, ConfigError, findConfig, readConfig, validateConfig, type DaemonConfig } from '../fleet/config.js';
import { EXIT, Exit, exitQuietlyOnClosedStdout, systemErrorLine, type Common } from './exit.js';
import { NoDaemonError, request } from './control.js';
import type { Daemon, StatusBody } from './daemon.js';
import { DaemonOutput } from './daemon-output.js';
import type { FleetStatusBody } from '../fleet/hosts.js';
import { paths } from './paths.js';
import { removeOwnFiles } from './pidfile.js';
import { packageVersion } from './version.js';

/**
 * The daemon's config: read from the file (or, for the detached daemon, from its stdin, where
 * `bosun start` writes what it already parsed: a YAML file is parsed once, and a config of any
 * size fits, where an environment variable would fail the spawn with E2BIG past 128 KB).
 */
async function configOrExit(
  file: string | undefined,
  o: { home?: string; fromStdin?: boolean },
  keepRaw?: (raw: unknown) => void,
): Promise<DaemonConfig> {
  const found = findConfig(file);
  if (found === undefined)
    throw new Exit(EXIT.usage, `bosun: no config file given and none found here (looked for ${CONFIG_NAMES.join(', ')})`);
  if (!existsSync(found)) throw new Exit(EXIT.usage, `bosun: no such config file: ${file ?? found}`);
  try {
    const raw = o.fromStdin === true ? handedConfig() : await readConfig(found);
    keepRaw?.(raw);
    return validateConfig(raw, found, o.home === undefined ? {} : { home: resolve(o.home) });
  } catch (err) {
    if (err instanceof ConfigError) throw new Exit(EXIT.usage, err.problems.join('\n'));
    throw err;
  }
}

/** What `bosun start` wrote on the detached daemon's stdin. */
function handedConfig(): unknown {
  const text = readFileSync(0, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Exit(
      EXIT.failed,
      `bosun: the config handed over by bosun start is incomplete (${text.length} bytes); start the daemon again`,
    );
  }
}

/**
 * Signals a terminal or a service manager sends to stop a process: each stops the fleet
 * cleanly and exits 0, so closing the terminal (SIGHUP) or Ctrl-\ (SIGQUIT) orphans nothing.
 * The detached daemon has no terminal, and ignores SIGHUP.
 */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

async function runDaemon(file: string | undefined, o: Common, detached: boolean): Promise<number> {
  leanDaemonFlags();
  let daemon: Daemon | undefined;
  let output: DaemonOutput | undefined;
  let home: ReturnType<typeof paths> | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal while stopping gives up waiting: every program's tree gets SIGKILL now
    // (programs outlive a daemon that dies, not one told twice to stop).
    if (stopping) {
      (output?.error ?? ((l: string) => process.stderr.write(`${l}\n`)))(`bosun: ${signal} again, exiting now`);
      daemon?.killNow();
      if (home !== undefined) removeOwnFiles(home.pid, home.socket);
      process.exit(EXIT.failed);
    }
    stopping = true;
    // Before the daemon exists nothing has started: runDaemon returns as soon as it sees the flag.
    if (daemon !== undefined) void daemon.shutdown();
  };
  // Installed first, so a signal during start-up is a clean stop too, not a half-made home.
  for (const signal of STOP_SIGNALS) if (!(detached && signal === 'SIGHUP')) process.on(signal, stop);
  if (detached)
    process.on('SIGHUP', () =>
      output?.error(`${new Date().toISOString()} bosun: SIGHUP ignored; \`bosun shutdown\` stops the detached daemon`),
    );
  process.on('SIGUSR1', () => (daemon !== undefined ? daemon.reopenLogs() : output?.reopen()));
  // Past RLIMIT_FSIZE a write then fails with EFBIG, which the writers handle, instead of killing the daemon.
  process.on('SIGXFSZ', () => {});
  // Backstops: nothing node itself writes (a warning) may take the daemon down on a write error.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});

  const config = await configOrExit(file ?? o.config, { ...(o.home === undefined ? {} : { home: o.home }), fromStdin: detached });
  if (stopping) return EXIT.ok;
  home = paths(config.home);
  output = detached ? DaemonOutput.file(home.daemonLog) : DaemonOutput.foreground();
  // Imported here so client commands never load the daemon's modules.
  const { Daemon } = await import('./daemon.js');
  if (stopping) return EXIT.ok;
  const out = output;
  daemon = new Daemon(
    config,
    out.line,
    out.error,
    () => out.reopen(),
    () => out.problems(),
  );
  try {
    const code = await daemon.open();
    if (code !== 0) return code;
    await daemon.exited;
  } finally {
    // Whatever way it ended (a signal while opening included), no pid file or socket of ours stays.
    removeOwnFiles(home.pid, home.socket);
  }
  // Everything is stopped and closed; do not let a stray handle keep the process alive.
  setTimeout(() => process.exit(process.exitCode ?? EXIT.ok), 3000).unref();
  return EXIT.ok;
}

/**
 * The daemon's JavaScript is glue around system calls: TurboFan buys it nothing measurable (log
 * throughput is the same or better without it), but the first time a status request makes a
 * function hot, the optimizing compiler's own code (about 3.5 MB of the node binary) becomes
 * resident and stays so. Stopping tier-up at the baseline compilers keeps the idle daemon small.
 * Set at run time so it also holds for `bosun run` started through the `#!/usr/bin/env node` bin.
 */
function leanDaemonFlags(): void {
  if (process.env.BOSUN_DAEMON_OPTIMIZE === '1') return;
  setFlagsFromString('--max-opt=2');
}

/**
 * Node flags of the detached daemon, which only a new process can take: V8's young generation
 * capped at 1 MB a semi-space. The daemon allocates little once up, but its start-up grows the
 * young generation to about 3.5 MB resident, and it never shrinks back (about 1 MB saved).
 */
const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];

async function startDetached(file: string | undefined, o: Common): Promise<number> {
  exitQuietlyOnClosedStdout();
  let raw: unknown;
  const config = await configOrExit(file ?? o.config, o.home === undefined ? {} : { home: o.home }, (r) => (raw = r));
  const home = config.home;
  try {
    const r = await request(paths(home).socket, { cmd: 'ping' });
    if (r.ok) throw new Exit(EXIT.failed, `bosun: a daemon is already running on ${home} (pid ${(r.result as { pid: number }).pid})`);
  } catch (err) {
    if (!(err instanceof NoDaemonError)) throw err;
    const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EACCES' || code === 'EPERM') throw new Exit(EXIT.failed, (await import('./client.js')).permissionDenied(home));
  }
  // The daemon checks its home again; daemon.log is written before it runs, so here too.
  const { HomeError, appendHomeFile, openHome } = await import('./home.js');
  let log: number;
  let realHome: string;
  try {
    realHome = openHome(home);
    log = appendHomeFile(paths(realHome).daemonLog);
  } catch (err) {
    if (err instanceof HomeError) throw new Exit(EXIT.failed, err.message);
    const line = systemErrorLine(err);
    if (line === undefined) throw err;
    throw new Exit(EXIT.failed, `${line}; cannot use ${home} as the daemon's home`);
  }
  const p = paths(realHome);
  const offset = fstatSync(log).size;
  // stderr goes to daemon.log for what node itself prints on a fatal error; the daemon writes its
  // own lines there through its rotating writer.
  const child = spawn(
    process.execPath,
    [...DAEMON_NODE_FLAGS, fileURLToPath(import.meta.url), 'run', config.file, '--home', realHome, '--detached'],
    {
      detached: true,
      stdio: ['pipe', 'ignore', log],
      cwd: process.cwd(),
    },
  );
  closeSync(log);
  // A daemon that exits before reading all of it says why in daemon.log; that is what is shown.
  child.stdin!.on('error', () => {});
  child.stdin!.end(JSON.stringify(raw));
  let exited = undefined as number | undefined;
  child.on('exit', (code) => (exited = code ?? EXIT.failed));
  const newOutput = () => {
    const bytes = readFileSync(p.daemonLog);
    // Rotated meanwhile: the whole (new) file is new.
    return (bytes.length >= offset ? bytes.subarray(offset) : bytes).toString('utf8');
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) {
      process.stderr.write(newOutput());
      return exited === 0 ? EXIT.failed : exited;
    }
    try {
      const r = await request(p.socket, { cmd: 'ping' });
      if (r.ok && (r.result as { pid: number }).pid === child.pid) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Exit(EXIT.failed, `bosun: the daemon did not come up within 30s; see ${p.daemonLog}`);
    // Short: until the socket exists a try costs one failed connect; once it does, the reply
    // comes as soon as the daemon has spawned its programs.
    await new Promise((r) => setTimeout(r, 5));
  }
  child.unref();
  const dash = newOutput()
    .split('\n')
    .filter((l) => l.startsWith('dashboard'));
  process.stdout.write([`bosun: daemon started (pid ${child.pid}), home ${home}, output in ${p.daemonLog}`, ...dash].join('\n') + '\n');
  return EXIT.ok;
}

/** `start <target>`: a config file when it exists or looks like one (so `bosun start typo.yaml` is "no such config file"), else a program name or `all`. */
function startsDaemon(target: string | undefined): boolean {
  if (target === undefined || existsSync(target)) return true;
  return target.includes('/') || /\.(ya?ml|json|[cm]?js)$/.test(target);
}

async function waitGone(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Leads `bosun --help`: how to get this command (README's Install section says the same). */
const INSTALL_HELP =
  'Install: npm install bosun (in a project: run it as npx bosun), or npm install -g bosun for a bosun command everywhere.\n' +
  'The queue needs a driver: npm install @electric-sql/pglite (embedded) or pg (PostgreSQL).\n';

async function program(): Promise<Command> {
  const { Command } = await import('commander');
  const { ask } = await import('./client.js');
  const cli = new Command('bosun')
    .description('Keeps programs running: a daemon that supervises the programs of a config file, and its command line.')
    .addHelpText('before', INSTALL_HELP)
    .addHelpText('after', '\nExit codes: 0 done, 1 failed, 2 bad usage or config, 3 no daemon running.')
    .version(packageVersion(), '-V, --version', 'print the version of bosun')
    .exitOverride();
  // Every command takes the common options, so they may come before or after the command.
  const common = (c: Command) =>
    c
      .option('--home <dir>', 'the daemon home (socket, pid file, token, logs)')
      .option('-c, --config <file>', 'config file (default bosun.config.{yaml,yml,json,mjs,js})');
  common(cli);
  const opts = (c: Command): Common => c.optsWithGlobals();
  let code: number = EXIT.ok;

  common(cli.command('run [config]').description('run the daemon in the foreground; Ctrl-C stops every program in reverse order')).action(
    async (file: string | undefined, _o, c: Command) => void (code = await runDaemon(file, opts(c), false)),
  );
  common(
    cli.command('start [target]').description('start the daemon detached (target: a config file), or start a program (target: name|all)'),
  ).action(async (target: string | undefined, _o, c: Command) => {
    const o = opts(c);
    if (startsDaemon(target)) code = await startDetached(target, o);
    else await ask(o, { cmd: 'start', target: target! });
  });
  common(cli.command('stop <target>').description('stop a program (name|name:index|all); returns once done')).action(
    async (target: string, _o, c: Command) => void (await ask(opts(c), { cmd: 'stop', target })),
  );
  common(cli.command('restart <target>').description('restart a program (name|name:index|all); returns once done'))
    .option(
      '--rolling',
      "one instance at a time, each replacement ready before its old process stops (default: the program's `rolling` key)",
    )
    .option('--no-rolling', 'all instances at once, even with `rolling: true`')
    .action(
      async (target: string, o: { rolling?: boolean }, c: Command) =>
        void (await ask(opts(c), { cmd: 'restart', target, ...(o.rolling === undefined ? {} : { rolling: o.rolling }) })),
    );
  common(
    cli.command('startup [config]').description('print a systemd unit that runs `bosun run <config>` for this home; --install writes it'),
  )
    .option('--install', 'write the unit and say the systemctl commands that enable it')
    .option('--unit-dir <dir>', 'where --install writes (default /etc/systemd/system as root, else ~/.config/systemd/user)')
    .action(async (file: string | undefined, o: { install?: boolean; unitDir?: string }, c: Command) => {
      const g = opts(c);
      const { startupCommand } = await import('./startup.js');
      code = await startupCommand(
        await configOrExit(file ?? g.config, {}),
        o.install === true,
        g.home === undefined ? undefined : resolve(g.home),
        o.unitDir === undefined ? undefined : resolve(o.unitDir),
      );
    });
  common(
    cli
      .command('status')
      .description('show every program instance')
      .option('--json', 'print JSON for scripts')
      .option('--fleet', 'every host of the fleet, from its database'),
  ).action(async (o: { json?: boolean; fleet?: boolean }, c: Command) => {
    if (o.fleet === true) {
      const body = (await ask(opts(c), { cmd: 'fleet' })) as FleetStatusBody;
      if (o.json === true) process.stdout.write(`${JSON.stringify(body)}\n`);
      else process.stdout.write(`${(await import('./status-table.js')).fleetTable(body)}\n`);
      return;
    }
    const body = (await ask(opts(c), { cmd: 'status' })) as StatusBody;
    if (o.json === true) process.stdout.write(`${JSON.stringify(body)}\n`);
    else process.stdout.write(`${(await import('./status-table.js')).statusTable(body)}\n`);
  });
  common(
    cli
      .command('logs [name]')
      .description(
        'print the last lines of each log, each with its time and stream; -f follows; --reopen makes the daemon reopen every log file (after logrotate moved them)',
      )
      .option('-f, --follow', 'keep printing new lines')
      .option('-n, --lines <n>', 'lines per log (read back across rotated files)', '20')
      .option('--raw', 'the bytes as the program wrote them, without time, stream or name')
      .option('--reopen', 'reopen every log file, daemon.log included (as SIGUSR1 to the daemon does)'),
  ).action(async (name: string | undefined, o: { follow?: boolean; lines: string; raw?: boolean; reopen?: boolean }, c: Command) => {
    if (o.reopen === true) {
      if (name !== undefined || o.follow === true) throw new Exit(EXIT.usage, 'bosun: logs --reopen takes no program name and no -f');
      await ask(opts(c), { cmd: 'reopen' });
      process.stdout.write('bosun: log files reopened\n');
      return;
    }
    const n = Number(o.lines);
    if (!Number.isInteger(n) || n < 0) throw new Exit(EXIT.usage, `bosun: -n expects a whole number, got '${o.lines}'`);
    const { logsCommand } = await import('./logs.js');
    code = await logsCommand(name, n, o.follow === true, o.raw === true, opts(c));
  });
  common(cli.command('reload').description('apply config changes: start added programs, stop removed ones, restart changed ones')).action(
    async (_o, c: Command) => {
      const r = (await ask(opts(c), { cmd: 'reload' })) as { added: string[]; removed: string[]; changed: string[] };
      process.stdout.write(`reloaded: added [${r.added.join(', ')}] removed [${r.removed.join(', ')}] changed [${r.changed.join(', ')}]\n`);
    },
  );
  common(cli.command('shutdown').description('stop every program and the daemon')).action(async (_o, c: Command) => {
    const o = opts(c);
    const pid = ((await ask(o, { cmd: 'ping' })) as { pid: number }).pid;
    await ask(o, { cmd: 'shutdown' });
    await waitGone(pid, 15_000);
  });
  (await import('./jobs.js')).jobsCommand(cli, common, (n) => (code = n));
  // A client's output may go to a reader that leaves early; the daemon (run) handles its own.
  cli.hook('preAction', (_cli, action) => {
    if (action.name() !== 'run') exitQuietlyOnClosedStdout();
  });
  cli.hook('postAction', () => {
    process.exitCode = code;
  });
  return cli;
}

/**
 * `run [config]` and `start [config]` with only --home/--config are parsed by hand: the daemon
 * then never loads commander (about 3 MB resident), and `bosun start` does not pay its load
 * time before spawning the daemon. Anything else, including --help, goes to commander.
 */
function parseDaemonCommand(args: string[]): { cmd: 'run' | 'start'; file?: string; o: Common; detached: boolean } | undefined {
  const o: Common = {};
  const positional: string[] = [];
  let detached = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = /^--(home|config)=(.*)$/.exec(a);
    if (eq !== null) o[eq[1] as 'home' | 'config'] = eq[2]!;
    else if (a === '--home' || a === '--config' || a === '-c') {
      const v = args[++i];
      if (v === undefined) return undefined;
      o[a === '--home' ? 'home' : 'config'] = v;
    } else if (a === '--detached') {
      // Internal: how `bosun start` runs the daemon (config on stdin, output to daemon.log, SIGHUP ignored).
      detached = true;
    } else if (a.startsWith('-')) return undefined;
    else positional.push(a);
  }
  const [cmd, file] = positional;
  if ((cmd !== 'run' && cmd !== 'start') || positional.length > 2) return undefined;
  if (detached && cmd !== 'run') return undefined;
  // `start all` and `start <name>` start programs of a running daemon: commander's path.
  if (cmd === 'start' && !startsDaemon(file)) return undefined;
  return file === undefined ? { cmd, o, detached } : { cmd, file, o, detached };
}

async function main(argv: string[]): Promise<void> {
  try {
    const direct = parseDaemonCommand(argv.slice(2));
    if (direct === undefined) await (await program()).parseAsync(argv);
    else
      process.exitCode =
        direct.cmd === 'run' ? await runDaemon(direct.file, direct.o, direct.detached) : await startDetached(direct.file, direct.o);
  } catch (err) {
    if ((err as { name?: string }).name === 'CommanderError') {
      const code = (err as { exitCode: number }).exitCode;
      process.exitCode = code === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof Exit) {
      if (err.message !== '') process.stderr.write(`${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      // A system error (permission denied, a full disk) is one line; anything else is a bug and keeps its stack.
      process.stderr.write(`${systemErrorLine(err) ?? `bosun: ${(err as Error).stack ?? String(err)}`}\n`);
      process.exitCode = EXIT.failed;
    }
  }
}

await main(process.argv);

#!/usr/bin/env node
// The bosun command line. `run` is the daemon in the foreground, `start` the same daemon
// detached; the other commands talk to it over <home>/bosun.sock and return once the action is
// done. Exit codes: 0 done, 1 failed, 2 bad usage or config, 3 no daemon running.

import { spawn } from 'node:child_process';
import { existsSync, closeSync, fstatSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { CONFIG_NAMES, ConfigError, findConfig, readConfig, validateConfig, type DaemonConfig } from '../fleet/config.js';
import { NoDaemonError, request, type Reply, type Request } from './control.js';
import type { LogFileRef, StatusBody } from './daemon.js';
import { paths } from './paths.js';
import { packageVersion } from './version.js';

const EXIT = { ok: 0, failed: 1, usage: 2, noDaemon: 3 } as const;

/** Raised inside a command to exit with `code` after printing `message`. */
class Exit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}

interface Common {
  home?: string;
  config?: string;
}

/** `bosun start` hands the daemon the content it already parsed, so a YAML file is parsed once. */
const PARSED_ENV = 'BOSUN_PARSED_CONFIG';

async function configOrExit(file: string | undefined, keepRaw?: (raw: unknown) => void): Promise<DaemonConfig> {
  const found = findConfig(file);
  if (found === undefined) throw new Exit(EXIT.usage, `bosun: no config file given and none found here (looked for ${CONFIG_NAMES.join(', ')})`);
  if (!existsSync(found)) throw new Exit(EXIT.usage, `bosun: config file ${found} does not exist`);
  try {
    const handed = process.env[PARSED_ENV];
    // Programs inherit the daemon's environment; this variable is not theirs.
    delete process.env[PARSED_ENV];
    const raw = handed !== undefined ? (JSON.parse(handed) as unknown) : await readConfig(found);
    keepRaw?.(raw);
    return validateConfig(raw, found);
  } catch (err) {
    if (err instanceof ConfigError) throw new Exit(EXIT.usage, err.problems.join('\n'));
    throw err;
  }
}

/** The home a client command talks to: --home, else the config's home, else ./.bosun. */
async function clientHome(o: Common): Promise<string> {
  if (o.home !== undefined) return resolve(o.home);
  const found = findConfig(o.config);
  if (found === undefined) return resolve('.bosun');
  return (await configOrExit(found)).home;
}

async function ask(o: Common, req: Request): Promise<unknown> {
  const home = await clientHome(o);
  let reply: Reply;
  try {
    reply = await request(paths(home).socket, req);
  } catch (err) {
    if (err instanceof NoDaemonError) throw new Exit(EXIT.noDaemon, `bosun: ${err.message} (home ${home})`);
    if ((err as { code?: string }).code === 'ERR_CONTROL') throw new Exit(EXIT.failed, `bosun: ${(err as Error).message}`);
    throw err;
  }
  if (!reply.ok) throw new Exit(reply.exit, reply.exit === EXIT.usage ? reply.error : `bosun: ${reply.error}`);
  return reply.result;
}

async function runDaemon(file: string | undefined, o: Common): Promise<number> {
  leanDaemonFlags();
  const config = await configOrExit(file ?? o.config);
  if (o.home !== undefined) config.home = resolve(o.home);
  // Imported here so client commands never load the daemon's modules.
  const { Daemon } = await import('./daemon.js');
  const daemon = new Daemon(config, (line) => process.stdout.write(`${line}\n`), (line) => process.stderr.write(`${line}\n`));
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal while stopping gives up waiting; process groups still get SIGKILL on exit.
    if (++signals > 1) {
      process.stderr.write(`bosun: ${signal} again, exiting now\n`);
      process.exit(EXIT.failed);
    }
    void daemon.shutdown();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await daemon.open();
  if (code !== 0) return code;
  await daemon.exited;
  // Everything is stopped and closed; do not let a stray handle keep the process alive.
  setTimeout(() => process.exit(process.exitCode ?? EXIT.ok), 3000).unref();
  return EXIT.ok;
}

/**
 * Node flags of the detached daemon, which only a new process can take: V8's young generation
 * capped at 1 MB a semi-space. The daemon allocates little once up, but its start-up grows the
 * young generation to about 3.5 MB resident, and it never shrinks back (about 1 MB saved).
 */
const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];

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

async function startDetached(file: string | undefined, o: Common): Promise<number> {
  let raw: unknown;
  const config = await configOrExit(file ?? o.config, (r) => (raw = r));
  const home = o.home !== undefined ? resolve(o.home) : config.home;
  const p = paths(home);
  try {
    const r = await request(p.socket, { cmd: 'ping' });
    if (r.ok) throw new Exit(EXIT.failed, `bosun: a daemon is already running on ${home} (pid ${(r.result as { pid: number }).pid})`);
  } catch (err) {
    if (!(err instanceof NoDaemonError)) throw err;
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
    throw err;
  }
  const offset = fstatSync(log).size;
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, fileURLToPath(import.meta.url), 'run', config.file, '--home', realHome], {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: process.cwd(),
    env: { ...process.env, [PARSED_ENV]: JSON.stringify(raw) },
  });
  closeSync(log);
  let exited = undefined as number | undefined;
  child.on("exit", (code) => (exited = code ?? EXIT.failed));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) {
      process.stderr.write(readFileSync(p.daemonLog, 'utf8').slice(offset));
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
  const dash = readFileSync(p.daemonLog, 'utf8').slice(offset).split('\n').filter((l) => l.startsWith('dashboard'));
  process.stdout.write([`bosun: daemon started (pid ${child.pid}), home ${home}, output in ${p.daemonLog}`, ...dash].join('\n') + '\n');
  return EXIT.ok;
}

async function showLogs(name: string | undefined, lines: number, followOn: boolean, raw: boolean, o: Common): Promise<number> {
  const home = await clientHome(o);
  const { scanLogDir, lastLines, lastRawLines, follow, formatLine } = await import('./logs.js');
  let refs: LogFileRef[];
  try {
    const r = await request(paths(home).socket, { cmd: 'logfiles' });
    refs = r.ok ? (r.result as LogFileRef[]) : scanLogDir(paths(home).logs);
  } catch {
    refs = scanLogDir(paths(home).logs);
  }
  if (name !== undefined) {
    refs = refs.filter((r) => r.name === name);
    if (refs.length === 0) throw new Exit(EXIT.failed, `bosun: no logs for unknown program '${name}'`);
  }
  const files = refs.map((ref) => {
    if (raw) {
      const { bytes, size } = lastRawLines(ref.path, lines);
      process.stdout.write(bytes);
      return { ref, pos: size };
    }
    const { lines: last, size } = lastLines(ref.path, lines);
    for (const l of last) process.stdout.write(formatLine(ref, l));
    return { ref, pos: size };
  });
  if (!followOn) return EXIT.ok;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  await follow(files, (ref, line) => process.stdout.write(formatLine(ref, line)), abort.signal, raw ? (_ref, bytes) => process.stdout.write(bytes) : undefined);
  return EXIT.ok;
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
  const cli = new Command('bosun')
    .description('Keeps programs running: a daemon that supervises the programs of a config file, and its command line.')
    .addHelpText('before', INSTALL_HELP)
    .addHelpText('after', '\nExit codes: 0 done, 1 failed, 2 bad usage or config, 3 no daemon running.')
    .version(packageVersion(), '-V, --version', 'print the version of bosun')
    .exitOverride();
  // Every command takes the common options, so they may come before or after the command.
  const common = (c: Command) => c.option('--home <dir>', 'the daemon home (socket, pid file, token, logs)').option('-c, --config <file>', 'config file (default bosun.config.{yaml,yml,json,mjs,js})');
  common(cli);
  const opts = (c: Command): Common => c.optsWithGlobals();
  let code: number = EXIT.ok;

  common(cli.command('run [config]').description('run the daemon in the foreground; Ctrl-C stops every program in reverse order'))
    .action(async (file: string | undefined, _o, c: Command) => void (code = await runDaemon(file, opts(c))));
  common(cli.command('start [target]').description('start the daemon detached (target: a config file), or start a program (target: name|all)'))
    .action(async (target: string | undefined, _o, c: Command) => {
      const o = opts(c);
      const isProgram = target !== undefined && (target === 'all' || !existsSync(target));
      if (isProgram) await ask(o, { cmd: 'start', target });
      else code = await startDetached(target, o);
    });
  common(cli.command('stop <target>').description('stop a program (name|name:index|all); returns once done'))
    .action(async (target: string, _o, c: Command) => void (await ask(opts(c), { cmd: 'stop', target })));
  common(cli.command('restart <target>').description('restart a program (name|name:index|all); returns once done'))
    .option('--rolling', 'one instance at a time, each replacement ready before its old process stops (default: the program\'s `rolling` key)')
    .option('--no-rolling', 'all instances at once, even with `rolling: true`')
    .action(async (target: string, o: { rolling?: boolean }, c: Command) => void (await ask(opts(c), { cmd: 'restart', target, ...(o.rolling === undefined ? {} : { rolling: o.rolling }) })));
  common(cli.command('startup [config]').description('print a systemd unit that runs `bosun run <config>` for this home; --install writes it'))
    .option('--install', 'write the unit and say the systemctl commands that enable it')
    .option('--unit-dir <dir>', 'where --install writes (default /etc/systemd/system as root, else ~/.config/systemd/user)')
    .action(async (file: string | undefined, o: { install?: boolean; unitDir?: string }, c: Command) => {
      const g = opts(c);
      const { startupCommand } = await import('./startup.js');
      code = await startupCommand(await configOrExit(file ?? g.config), o.install === true, g.home === undefined ? undefined : resolve(g.home), o.unitDir === undefined ? undefined : resolve(o.unitDir));
    });
  common(cli.command('status').description('show every program instance').option('--json', 'print JSON for scripts'))
    .action(async (o: { json?: boolean }, c: Command) => {
      const body = (await ask(opts(c), { cmd: 'status' })) as StatusBody;
      if (o.json === true) process.stdout.write(`${JSON.stringify(body)}\n`);
      else process.stdout.write(`${(await import('./status-table.js')).statusTable(body)}\n`);
    });
  common(cli.command('logs [name]').description('print the last lines of each log, each with its time and stream; -f follows').option('-f, --follow', 'keep printing new lines').option('-n, --lines <n>', 'lines per log (read back across rotated files)', '20').option('--raw', 'the bytes as the program wrote them, without time, stream or name'))
    .action(async (name: string | undefined, o: { follow?: boolean; lines: string; raw?: boolean }, c: Command) => {
      const n = Number(o.lines);
      if (!Number.isInteger(n) || n < 0) throw new Exit(EXIT.usage, `bosun: -n expects a whole number, got '${o.lines}'`);
      code = await showLogs(name, n, o.follow === true, o.raw === true, opts(c));
    });
  common(cli.command('reload').description('apply config changes: start added programs, stop removed ones, restart changed ones'))
    .action(async (_o, c: Command) => {
      const r = (await ask(opts(c), { cmd: 'reload' })) as { added: string[]; removed: string[]; changed: string[] };
      process.stdout.write(`reloaded: added [${r.added.join(', ')}] removed [${r.removed.join(', ')}] changed [${r.changed.join(', ')}]\n`);
    });
  common(cli.command('shutdown').description('stop every program and the daemon'))
    .action(async (_o, c: Command) => {
      const o = opts(c);
      const pid = ((await ask(o, { cmd: 'ping' })) as { pid: number }).pid;
      await ask(o, { cmd: 'shutdown' });
      await waitGone(pid, 15_000);
    });
  // Loaded with commander, never by the daemon itself.
  const { jobsCommand } = await import('./jobs.js');
  jobsCommand(cli, common, (n) => (code = n));
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
function parseDaemonCommand(args: string[]): { cmd: 'run' | 'start'; file?: string; o: Common } | undefined {
  const o: Common = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = /^--(home|config)=(.*)$/.exec(a);
    if (eq !== null) o[eq[1] as 'home' | 'config'] = eq[2]!;
    else if (a === '--home' || a === '--config' || a === '-c') {
      const v = args[++i];
      if (v === undefined) return undefined;
      o[a === '--home' ? 'home' : 'config'] = v;
    } else if (a.startsWith('-')) return undefined;
    else positional.push(a);
  }
  const [cmd, file] = positional;
  if ((cmd !== 'run' && cmd !== 'start') || positional.length > 2) return undefined;
  // `start all` and `start <name>` start programs of a running daemon: commander's path.
  if (cmd === 'start' && file !== undefined && (file === 'all' || !existsSync(file))) return undefined;
  return file === undefined ? { cmd, o } : { cmd, file, o };
}

async function main(argv: string[]): Promise<void> {
  try {
    const direct = parseDaemonCommand(argv.slice(2));
    if (direct === undefined) await (await program()).parseAsync(argv);
    else process.exitCode = direct.cmd === 'run' ? await runDaemon(direct.file, direct.o) : await startDetached(direct.file, direct.o);
  } catch (err) {
    if ((err as { name?: string }).name === 'CommanderError') {
      const code = (err as { exitCode: number }).exitCode;
      process.exitCode = code === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof Exit) {
      if (err.message !== '') process.stderr.write(`${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`bosun: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT.failed;
    }
  }
}

await main(process.argv);

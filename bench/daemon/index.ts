// bench/daemon: bosun's daemon side by side with PM2 (private PM2_HOME, killed afterwards), on
// the same program script: start 20 programs until all are online; crash to the restarted
// program's first line against a bare spawn; the daemon's RSS with 20 idle programs against a
// bare node; lines per second a program can print through the daemon into its log file; and
// for a web program of 2 instances (issue 14): failed requests during rolling restarts under
// load (bosun `restart --rolling` on one shared listen socket against `pm2 reload` in cluster
// mode), and requests/s through bosun's shared socket against PM2's cluster master.
// Run: node build/bench/daemon/index.js   (prints; asserts nothing)
// BENCH_DAEMON_ONLY=web runs only the web measurements.

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/cli/control.js';
import { percentile } from '../harness.js';
import { freePort } from '../../test/support.js';
import { startLoad, type LoadResult } from './load.js';

// The daemon as users run it: the package's dist/ (built without comments), not the test build.
const BOSUN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
const PROGRAM = fileURLToPath(new URL('./program.js', import.meta.url));
const WEB = fileURLToPath(new URL('./web-server.js', import.meta.url));
const WEB_SECONDS = Number(process.env.BENCH_DAEMON_WEB_SECONDS ?? 8);
const WEB_CLIENTS = Number(process.env.BENCH_DAEMON_WEB_CLIENTS ?? 8);
const ROLLS = Number(process.env.BENCH_DAEMON_ROLLS ?? 3);
const PM2_BIN = createRequire(import.meta.url).resolve('pm2/bin/pm2');
const N = 20;
const CRASHES = Number(process.env.BENCH_DAEMON_CRASHES ?? 15);
const LOG_LINES = Number(process.env.BENCH_DAEMON_LOG_LINES ?? 200_000);
const LINE_BYTES = 64;
const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'bosun-bench-daemon-'));
const pm2Home = join(work, 'pm2');
const env = { ...process.env, PM2_HOME: pm2Home };

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd ?? work, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('bench timed out');
    await sleep(everyMs);
  }
}

/** VmRSS in MB, and its anonymous part (private heap; the rest is mostly the node binary's shared code pages). */
function rssMB(pid: number): number {
  return statusField(pid, 'VmRSS');
}
function anonMB(pid: number): number {
  return statusField(pid, 'RssAnon');
}
function statusField(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---- bosun ----
interface App {
  name: string;
  args: string[];
}

function bosunConfig(apps: App[], extra = '', dashboard = false): string {
  const file = join(work, `bosun-${Date.now()}.json`);
  const programs: Record<string, unknown> = {};
  for (const a of apps)
    programs[a.name] = {
      command: [process.execPath, PROGRAM, ...a.args],
      logs: { maxSize: '1GB' },
      ...(extra === 'crash' ? { restart: 'always' } : {}),
    };
  writeFileSync(
    file,
    JSON.stringify({
      home: join(work, 'bosun-home'),
      dashboard: dashboard ? { port: 0 } : false,
      supervisor: { intensity: 100_000, period: '1s', backoff: { initial: 0, factor: 1, max: 0 } },
      programs,
    }),
  );
  return file;
}

const bosunSocket = () => join(work, 'bosun-home', 'bosun.sock');
type Status = { programs: { name: string; pid: number | null; state: string }[] };
async function bosunStatus(): Promise<Status> {
  const r = await request(bosunSocket(), { cmd: 'status' });
  if (!r.ok) throw new Error(r.error);
  return r.result as Status;
}
async function bosunUp(apps: App[], dashboard = false): Promise<{ ms: number; pid: number }> {
  const cfg = bosunConfig(apps, '', dashboard);
  const t0 = performance.now();
  await run(process.execPath, [BOSUN, 'start', cfg]);
  await waitFor(async () =>
    (await bosunStatus()).programs.filter((p) => p.state === 'running').length === apps.length ? true : undefined,
  );
  const ms = performance.now() - t0;
  return { ms, pid: Number(readFileSync(join(work, 'bosun-home', 'bosun.pid'), 'utf8')) };
}
async function bosunDown(): Promise<void> {
  await run(process.execPath, [BOSUN, 'shutdown', '--home', join(work, 'bosun-home')]);
}

// ---- PM2 ----
function pm2Ecosystem(apps: App[], extra: Record<string, unknown> = {}): string {
  const file = join(work, `ecosystem-${Date.now()}.config.cjs`);
  const list = apps.map((a) => ({
    name: a.name,
    script: PROGRAM,
    args: a.args,
    interpreter: process.execPath,
    out_file: join(work, 'pm2-logs', `${a.name}.log`),
    error_file: join(work, 'pm2-logs', `${a.name}-err.log`),
    ...extra,
  }));
  writeFileSync(file, `module.exports = ${JSON.stringify({ apps: list })};\n`);
  return file;
}
async function pm2List(): Promise<{ name: string; pid: number; pm2_env: { status: string } }[]> {
  return JSON.parse(await run(process.execPath, [PM2_BIN, 'jlist'], { env })) as {
    name: string;
    pid: number;
    pm2_env: { status: string };
  }[];
}
async function pm2Up(apps: App[], extra: Record<string, unknown> = {}): Promise<{ ms: number; pid: number }> {
  const eco = pm2Ecosystem(apps, extra);
  const t0 = performance.now();
  await run(process.execPath, [PM2_BIN, 'start', eco], { env });
  const startReturned = performance.now() - t0;
  // `pm2 start` returns once the apps are launched; confirm (untimed when already true) that all are online.
  let list = await pm2List();
  let ms = startReturned;
  while (list.filter((p) => p.pm2_env.status === 'online').length < apps.length) {
    list = await pm2List();
    ms = performance.now() - t0;
  }
  return { ms, pid: Number(readFileSync(join(pm2Home, 'pm2.pid'), 'utf8')) };
}
async function pm2Down(): Promise<void> {
  await run(process.execPath, [PM2_BIN, 'kill'], { env }).catch(() => '');
}

// ---- measurements ----
const idleApps = Array.from({ length: N }, (_, i) => ({ name: `idle${i}`, args: ['idle'] }));

/** How long one process needs to spawn N detached node programs back to back: no daemon can start them faster. */
async function spawnLoopFloor(): Promise<number> {
  const t0 = performance.now();
  const kids = idleApps.map(() => spawn(process.execPath, [PROGRAM, 'idle'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  const ms = performance.now() - t0;
  for (const k of kids) k.kill('SIGKILL');
  await sleep(1000);
  return ms;
}

async function startAndRss(): Promise<void> {
  const bare = spawn(process.execPath, ['-e', 'setInterval(()=>{},1<<30)'], { stdio: 'ignore' });
  await sleep(1500);
  const bareRss = rssMB(bare.pid!);
  const bareAnon = anonMB(bare.pid!);
  bare.kill('SIGKILL');
  // bosun is an ES module program; the ESM loader alone is part of what it costs over `node -e`.
  const bareEsm = spawn(process.execPath, ['--input-type=module', '-e', 'setInterval(()=>{},1<<30)'], { stdio: 'ignore' });
  await sleep(1500);
  const bareEsmRss = rssMB(bareEsm.pid!);
  bareEsm.kill('SIGKILL');
  const rows: string[] = [];
  const bosun: number[] = [];
  const pm2: number[] = [];
  let bosunRss = NaN;
  let pm2Rss = NaN;
  let bosunAnon = NaN;
  let pm2Anon = NaN;
  for (let round = 0; round < 3; round++) {
    const b = await bosunUp(idleApps);
    bosun.push(b.ms);
    await sleep(3000);
    bosunRss = Math.min(Number.isNaN(bosunRss) ? Infinity : bosunRss, rssMB(b.pid));
    bosunAnon = Math.min(Number.isNaN(bosunAnon) ? Infinity : bosunAnon, anonMB(b.pid));
    await bosunDown();
    const p = await pm2Up(idleApps);
    pm2.push(p.ms);
    await sleep(3000);
    pm2Rss = Math.min(Number.isNaN(pm2Rss) ? Infinity : pm2Rss, rssMB(p.pid));
    pm2Anon = Math.min(Number.isNaN(pm2Anon) ? Infinity : pm2Anon, anonMB(p.pid));
    await pm2Down();
  }
  const withDash = await bosunUp(idleApps, true);
  await sleep(3000);
  const dashRss = rssMB(withDash.pid);
  const dashAnon = anonMB(withDash.pid);
  await bosunDown();
  const bm = percentile(bosun, 0.5);
  const pm = percentile(pm2, 0.5);
  const floor = await spawnLoopFloor();
  rows.push(
    `start ${N} programs until all online (median of 3, cold daemon): bosun ${bm.toFixed(0)} ms, pm2 ${pm.toFixed(0)} ms -> ${(bm / pm).toFixed(2)}x pm2 (goal <= 0.3x); runs bosun [${bosun.map((x) => x.toFixed(0)).join(', ')}] pm2 [${pm2.map((x) => x.toFixed(0)).join(', ')}]`,
  );
  rows.push(
    `  floor: ${N} detached spawns of the program in a loop from one idle process take ${floor.toFixed(0)} ms (each child's boot competes with the loop for the 2 cores)`,
  );
  rows.push(
    `daemon RSS with ${N} idle programs (best of 3, 3 s after start, after status polls): bosun ${bosunRss.toFixed(1)} MB, pm2 ${pm2Rss.toFixed(1)} MB, bare node ${bareRss.toFixed(1)} MB -> bosun = bare + ${(bosunRss - bareRss).toFixed(1)} MB (goal <= +8 MB; with the dashboard on: ${dashRss.toFixed(1)} MB = bare + ${(dashRss - bareRss).toFixed(1)} MB), pm2 = bare + ${(pm2Rss - bareRss).toFixed(1)} MB; a bare ES module node: ${bareEsmRss.toFixed(1)} MB (bosun = that + ${(bosunRss - bareEsmRss).toFixed(1)} MB)`,
  );
  rows.push(
    `  of which anonymous (private) memory: bosun ${bosunAnon.toFixed(1)} MB (+${(bosunAnon - bareAnon).toFixed(1)}; dashboard on ${dashAnon.toFixed(1)} MB), pm2 ${pm2Anon.toFixed(1)} MB (+${(pm2Anon - bareAnon).toFixed(1)}), bare node ${bareAnon.toFixed(1)} MB; the rest is file-backed (node binary code pages, shared)`,
  );
  console.log(rows.join('\n'));
}

function pairs(file: string): number[] {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  const out: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const [a, ta] = lines[i - 1]!.split(' ');
    const [b, tb] = lines[i]!.split(' ');
    if (a === 'down' && b === 'up') out.push(Number(tb) - Number(ta));
  }
  return out;
}

async function crashRestart(): Promise<void> {
  const bare: number[] = [];
  // Detached as both daemons spawn (own session and process group): the like-for-like baseline.
  const bareDetached: number[] = [];
  const bareFile = join(work, 'bare-crash.txt');
  for (let i = 0; i < 2 * CRASHES; i++) {
    rmSync(bareFile, { force: true });
    const t0 = wall();
    const child = spawn(process.execPath, [PROGRAM, 'crash', bareFile, '100000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: i % 2 === 1,
    });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    (i % 2 === 1 ? bareDetached : bare).push(Number(readFileSync(bareFile, 'utf8').split(' ')[1]) - t0);
    child.kill('SIGKILL');
  }
  const bosunFile = join(work, 'bosun-crash.txt');
  await bosunUp([{ name: 'crasher', args: ['crash', bosunFile, '150'] }]);
  await waitFor(() => (pairs(bosunFile).length >= CRASHES ? true : undefined), 60_000, 50);
  await bosunDown();
  const pm2File = join(work, 'pm2-crash.txt');
  await pm2Up([{ name: 'crasher', args: ['crash', pm2File, '150'] }], {
    autorestart: true,
    restart_delay: 0,
    min_uptime: 100,
    max_restarts: 100_000,
  });
  await waitFor(() => (pairs(pm2File).length >= CRASHES ? true : undefined), 60_000, 50);
  await pm2Down();
  const bareMed = percentile(bare, 0.5);
  const bm = percentile(pairs(bosunFile).slice(0, CRASHES), 0.5);
  const pm = percentile(pairs(pm2File).slice(0, CRASHES), 0.5);
  const detMed = percentile(bareDetached, 0.5);
  console.log(
    `crash -> restarted program's first line (median of ${CRASHES}, backoff 0): bare spawn ${bareMed.toFixed(1)} ms, bosun ${bm.toFixed(1)} ms (${(bm / bareMed).toFixed(2)}x bare, goal <= 1.05x), pm2 ${pm.toFixed(1)} ms (${(pm / bareMed).toFixed(2)}x bare)`,
  );
  console.log(
    `  against a detached bare spawn (${detMed.toFixed(1)} ms): bosun ${(bm / detMed).toFixed(2)}x, pm2 ${(pm / detMed).toFixed(2)}x`,
  );
}

async function logThroughput(): Promise<void> {
  const expected = LOG_LINES * LINE_BYTES;
  const measure = async (markFile: string, logFile: string) => {
    const end = await waitFor(() => (existsSync(logFile) && statSync(logFile).size >= expected ? wall() : undefined), 120_000, 2);
    const start = Number(readFileSync(markFile, 'utf8').split(' ')[1]);
    return LOG_LINES / ((end - start) / 1000);
  };
  const bMark = join(work, 'bosun-spew.txt');
  await bosunUp([{ name: 'spew', args: ['spew', bMark, String(LOG_LINES)] }]);
  const bosun = await measure(bMark, join(work, 'bosun-home', 'logs', 'spew-0.log'));
  await bosunDown();
  const pMark = join(work, 'pm2-spew.txt');
  await pm2Up([{ name: 'spew', args: ['spew', pMark, String(LOG_LINES)] }], { autorestart: false });
  const pm2 = await measure(pMark, join(work, 'pm2-logs', 'spew.log'));
  await pm2Down();
  console.log(
    `log lines/s through the daemon into its log file (${LOG_LINES} lines of ${LINE_BYTES} B): bosun ${Math.round(bosun).toLocaleString('en-US')}, pm2 ${Math.round(pm2).toLocaleString('en-US')} -> ${(bosun / pm2).toFixed(2)}x pm2`,
  );
}

// ---- a web program of 2 instances (issue 14) ----

/** Both daemons run web-server.js as 2 instances on one port: bosun on its shared listen socket, PM2 in cluster mode. */
interface WebDaemon {
  name: string;
  up(port: number): Promise<void>;
  roll(): Promise<void>;
  pids(): Promise<string[]>;
  down(): Promise<void>;
}

const bosunWeb: WebDaemon = {
  name: 'bosun',
  async up(port) {
    const file = join(work, `bosun-web-${port}.json`);
    const web = {
      command: [process.execPath, WEB],
      env: process.env.BENCH_SINGLE_ACCEPT ? { UV_TCP_SINGLE_ACCEPT: '1' } : {},
      instances: 2,
      listen: [`127.0.0.1:${port}`],
      ready: { log: 'listening' },
      rolling: true,
      logs: { maxSize: '1GB' },
    };
    writeFileSync(file, JSON.stringify({ home: join(work, 'bosun-home'), dashboard: false, programs: { web } }));
    await run(process.execPath, [BOSUN, 'start', file]);
    await waitFor(async () => ((await bosunStatus()).programs.filter((p) => p.state === 'ready').length === 2 ? true : undefined));
  },
  async roll() {
    await run(process.execPath, [BOSUN, 'restart', 'web', '--rolling', '--home', join(work, 'bosun-home')]);
  },
  async pids() {
    return (await bosunStatus()).programs.map((p) => String(p.pid));
  },
  down: bosunDown,
};

const pm2Web: WebDaemon = {
  name: 'pm2',
  async up(port) {
    const file = join(work, `ecosystem-web-${port}.config.cjs`);
    const app = {
      name: 'web',
      script: WEB,
      exec_mode: 'cluster',
      instances: 2,
      env: { PORT: String(port) },
      out_file: join(work, 'pm2-logs', 'web.log'),
      error_file: join(work, 'pm2-logs', 'web-err.log'),
    };
    writeFileSync(file, `module.exports = ${JSON.stringify({ apps: [app] })};\n`);
    await run(process.execPath, [PM2_BIN, 'start', file], { env });
    await waitFor(async () => ((await pm2List()).filter((p) => p.pm2_env.status === 'online').length === 2 ? true : undefined), 60_000, 50);
  },
  async roll() {
    await run(process.execPath, [PM2_BIN, 'reload', 'web'], { env });
  },
  async pids() {
    return (await pm2List()).map((p) => String(p.pid));
  },
  down: pm2Down,
};

/** Requests/s of both daemons in alternating slices (the order swapped every round), so a machine whose load drifts weighs on both alike. */
async function throughput(ports: [number, number], keepAlive: boolean): Promise<{ rps: [number, number]; busiest: [number, number] }> {
  const ok = [0, 0];
  const ms = [0, 0];
  const byPid = [new Map<string, number>(), new Map<string, number>()];
  const slices = Math.max(1, Math.round(WEB_SECONDS));
  for (let round = 0; round < slices; round++) {
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const load = startLoad(ports[i]!, WEB_CLIENTS, keepAlive);
      await sleep(1000);
      const r = await load.stop();
      ok[i]! += r.ok;
      ms[i]! += r.ms;
      for (const [pid, n] of r.pids) byPid[i]!.set(pid, (byPid[i]!.get(pid) ?? 0) + n);
    }
  }
  const share = (m: Map<string, number>, total: number) => Math.round((100 * Math.max(...m.values())) / total);
  return { rps: [(ok[0]! / ms[0]!) * 1000, (ok[1]! / ms[1]!) * 1000], busiest: [share(byPid[0]!, ok[0]!), share(byPid[1]!, ok[1]!)] };
}

/** Rolling restarts under load: `ROLLS` of them while the clients run; every pid should change. */
async function rollUnderLoad(d: WebDaemon, port: number, keepAlive: boolean): Promise<LoadResult & { changed: boolean }> {
  const before = await d.pids();
  const load = startLoad(port, WEB_CLIENTS, keepAlive);
  await sleep(500);
  for (let i = 0; i < ROLLS; i++) {
    await d.roll();
    await sleep(500);
  }
  const r = await load.stop();
  const after = await d.pids();
  return { ...r, changed: after.every((p) => !before.includes(p)) };
}

async function webBench(): Promise<void> {
  const ports: [number, number] = [await freePort(), await freePort()];
  await bosunWeb.up(ports[0]);
  try {
    await pm2Web.up(ports[1]);
    try {
      // Warm both up, then throughput: a new connection per request, then kept-alive connections.
      const warm = ports.map((port) => startLoad(port, WEB_CLIENTS, false));
      await sleep(500);
      await Promise.all(warm.map((w) => w.stop()));
      const fresh = await throughput(ports, false);
      const keep = await throughput(ports, true);
      const rolls = {
        bosun: { fresh: await rollUnderLoad(bosunWeb, ports[0], false), keep: await rollUnderLoad(bosunWeb, ports[0], true) },
        pm2: { fresh: await rollUnderLoad(pm2Web, ports[1], false), keep: await rollUnderLoad(pm2Web, ports[1], true) },
      };
      const fails = (r: LoadResult) =>
        `${r.failed} of ${(r.ok + r.failed).toLocaleString('en-US')}${r.errors.length > 0 ? ` (${[...new Set(r.errors)].join('; ')})` : ''}`;
      const n = (x: number) => Math.round(x).toLocaleString('en-US');
      console.log(
        `web program, 2 instances, ${WEB_CLIENTS} clients without pause on 127.0.0.1 (bosun: one shared listen socket; pm2: cluster mode):`,
      );
      console.log(
        `  failed requests over ${ROLLS} rolling restarts, a new connection per request: bosun ${fails(rolls.bosun.fresh)}, pm2 ${fails(rolls.pm2.fresh)} (goal: bosun 0)`,
      );
      console.log(
        `  the same with kept-alive connections: bosun ${fails(rolls.bosun.keep)}, pm2 ${fails(rolls.pm2.keep)}; every pid changed: bosun ${rolls.bosun.fresh.changed && rolls.bosun.keep.changed}, pm2 ${rolls.pm2.fresh.changed && rolls.pm2.keep.changed}`,
      );
      console.log(
        `  requests/s, a new connection per request (${WEB_SECONDS} alternating 1 s slices each): bosun ${n(fresh.rps[0])}, pm2 ${n(fresh.rps[1])} -> ${(fresh.rps[0] / fresh.rps[1]).toFixed(2)}x pm2 (goal >= 1.2x); busiest instance's share: bosun ${fresh.busiest[0]}%, pm2 ${fresh.busiest[1]}%`,
      );
      console.log(
        `  requests/s, kept-alive connections: bosun ${n(keep.rps[0])}, pm2 ${n(keep.rps[1])} -> ${(keep.rps[0] / keep.rps[1]).toFixed(2)}x pm2; busiest instance's share: bosun ${keep.busiest[0]}%, pm2 ${keep.busiest[1]}%`,
      );
    } finally {
      await pm2Web.down();
    }
  } finally {
    await bosunWeb.down();
  }
}

try {
  console.log(
    `\n## bench/daemon: bosun vs PM2 ${JSON.parse(readFileSync(createRequire(import.meta.url).resolve('pm2/package.json'), 'utf8')).version} (node ${process.version})`,
  );
  if (process.env.BENCH_DAEMON_ONLY !== 'web') {
    await startAndRss();
    await crashRestart();
    await logThroughput();
  }
  await webBench();
} finally {
  await bosunDown().catch(() => undefined);
  await pm2Down();
  rmSync(work, { recursive: true, force: true });
}

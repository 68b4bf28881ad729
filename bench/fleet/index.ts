// bench/fleet: a fleet across hosts on a PostgreSQL cluster of the benchmark's own.
// 1. Failover: two daemons share a singleton that writes heartbeats; SIGKILL of the holder's
//    daemon, then the time until the other host's first heartbeat, over RUNS runs (the killed
//    daemon is started again each time, so the holder alternates), against the lease's TTL.
//    No tenure may overlap another (checked, printed). Also the fence's memory while it guards.
// 2. Idle database load: three daemons with 20 programs each (`sleep`, so the machine is not
//    filled with node processes), once with no singleton and once with all 20 singletons, at
//    the default leaseTtl; queries per second counted by pg_stat_statements over a window.
// No process manager among the peers (PM2, systemd units) spans hosts, so there is no peer to
// run: figures are against the TTL, the floor the design sets.
// Run: node build/bench/fleet/index.js   (prints; asserts nothing)
// Env: BENCH_FLEET_RUNS (20), BENCH_FLEET_TTL (ms, 3000), BENCH_FLEET_IDLE_S (window, 60).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/cli/control.js';
import { percentile } from '../harness.js';
import { tenures } from '../../test/fleet/heartbeats.js';
import { Cluster } from './cluster.js';

const BOSUN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// The heartbeat program of the fleet tests (`beat <host> <file>`).
const PROGRAM = fileURLToPath(new URL('../../test/cli/fixtures/beat.js', import.meta.url));
const RUNS = Number(process.env.BENCH_FLEET_RUNS ?? 20);
const TTL = Number(process.env.BENCH_FLEET_TTL ?? 3000);
const IDLE_S = Number(process.env.BENCH_FLEET_IDLE_S ?? 60);
const mono = () => Number(process.hrtime.bigint() / 1_000_000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), 'bosun-bench-fleet-'));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface Host {
  name: string;
  home: string;
  config: string;
  child?: ChildProcess;
}

function host(name: string, fleet: object, programs: object): Host {
  const dir = join(work, name);
  const home = join(dir, '.bosun');
  const config = join(dir, 'bosun.config.json');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(config, JSON.stringify({ home, dashboard: false, fleet: { host: name, ...fleet }, programs }));
  return { name, home, config };
}

async function up(h: Host): Promise<void> {
  const child = spawn(process.execPath, [BOSUN, 'run', h.config], { stdio: ['ignore', 'ignore', 'inherit'] });
  h.child = child;
  await waitFor(
    `${h.name} to come up`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${h.name} exited ${child.exitCode}`);
      try {
        const r = await request(join(h.home, 'bosun.sock'), { cmd: 'ping' });
        return r.ok && (r.result as { pid: number }).pid === child.pid ? true : undefined;
      } catch {
        return undefined;
      }
    },
    60_000,
    20,
  );
}

async function down(h: Host): Promise<void> {
  const child = h.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  await request(join(h.home, 'bosun.sock'), { cmd: 'shutdown' }).catch(() => child.kill('SIGKILL'));
  await exited;
}

function memoryOf(pid: number): { rssMB: number; ussMB: number; pssMB: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => [...rollup.matchAll(new RegExp(`^${field}:\\s+(\\d+)`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
  return { rssMB: kb('Rss') / 1024, ussMB: (kb('Private_Clean') + kb('Private_Dirty')) / 1024, pssMB: kb('Pss') / 1024 };
}

/** The fence process started by daemon `pid` (its parent, or init once the daemon is gone). */
function fenceOf(daemonPid: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'latin1');
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (cmd.includes('fence-process.js') && ppid === daemonPid) return Number(name);
    } catch {
      // gone
    }
  }
  return undefined;
}

const f1 = (n: number) => n.toFixed(1);

async function failover(cluster: Cluster): Promise<void> {
  const beats = join(work, 'beats');
  const fleet = { database: cluster.url('fleet'), leaseTtl: TTL, schema: 'failover' };
  const hosts = ['a', 'b'].map((n) =>
    host(n, fleet, {
      beat: {
        command: [process.execPath, PROGRAM, 'beat', n, beats],
        placement: 'singleton',
        killTimeout: Math.min(500, Math.floor(TTL / 6)),
      },
    }),
  );
  for (const h of hosts) await up(h);
  const current = () =>
    waitFor('a holder', () => {
      const last = tenures(beats).at(-1);
      return last !== undefined && mono() - last.to < 200 ? last : undefined;
    });
  await current();
  const ownerPid = hosts.find((h) => h.name === tenures(beats).at(-1)!.host)!.child!.pid!;
  const fence = fenceOf(ownerPid);
  const fenceMem = fence === undefined ? undefined : memoryOf(fence);
  const daemonMem = memoryOf(ownerPid);
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await current();
    // At a random point of the renew cycle: the lease left after the death is what failover waits for.
    await sleep(Math.random() * (TTL / 3));
    const old = await current();
    const victim = hosts.find((h) => h.name === old.host)!;
    const t0 = mono();
    victim.child!.kill('SIGKILL');
    const next = await waitFor(
      'the other host to take over',
      () => tenures(beats).find((t) => t.host !== old.host && t.from > old.from),
      60_000,
      2,
    );
    samples.push(next.from - t0);
    await new Promise((r) =>
      victim.child!.exitCode !== null || victim.child!.signalCode !== null ? r(null) : victim.child!.once('exit', r),
    );
    await up(victim);
  }
  const all = tenures(beats);
  let overlaps = 0;
  for (let i = 1; i < all.length; i++) if (all[i]!.from <= all[i - 1]!.to) overlaps++;
  const gaps = all.slice(1).map((t, i) => t.from - all[i]!.to);
  for (const h of hosts) await down(h);
  const p50 = percentile(samples, 0.5);
  const max = Math.max(...samples);
  console.log(`\n## failover after SIGKILL of the holder's daemon (${RUNS} runs, leaseTtl ${TTL} ms, renew ${Math.round(TTL / 3)} ms)`);
  console.log(['measure', 'ms', 'x leaseTtl'].join('\t'));
  console.log(['p50', Math.round(p50), (p50 / TTL).toFixed(2)].join('\t'));
  console.log(['max', Math.round(max), (max / TTL).toFixed(2)].join('\t'));
  console.log(['min', Math.round(Math.min(...samples)), (Math.min(...samples) / TTL).toFixed(2)].join('\t'));
  console.log(`samples: ${samples.map((s) => Math.round(s)).join(' ')}`);
  console.log(
    `tenures ${all.length}, overlaps ${overlaps}, gap between tenures min ${Math.min(...gaps)} ms p50 ${percentile(gaps, 0.5)} ms`,
  );
  if (fenceMem !== undefined)
    console.log(`fence process: RSS ${f1(fenceMem.rssMB)} MB, private (USS) ${f1(fenceMem.ussMB)} MB, PSS ${f1(fenceMem.pssMB)} MB`);
  console.log(`holder daemon with fleet (pg loaded): RSS ${f1(daemonMem.rssMB)} MB, private ${f1(daemonMem.ussMB)} MB`);
}

async function idleLoad(cluster: Cluster, singletons: boolean): Promise<void> {
  const schema = singletons ? 'idle_singletons' : 'idle_plain';
  const fleet = { database: cluster.url('fleet'), schema };
  const programs: Record<string, object> = {};
  for (let i = 0; i < 20; i++) programs[`p${i}`] = { command: ['sleep', '100000'], ...(singletons ? { placement: 'singleton' } : {}) };
  const hosts = ['x', 'y', 'z'].map((n) => host(`${schema}-${n}`, fleet, programs));
  for (const h of hosts) await up(h);
  await sleep(5000); // settled: every start written, leases taken
  await cluster.sql('SELECT pg_stat_statements_reset()');
  const t0 = mono();
  await sleep(IDLE_S * 1000);
  const rows = await cluster.sql<{ calls: string; query: string }>(
    `SELECT s.calls, s.query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'fleet' ORDER BY s.calls DESC`,
  );
  const seconds = (mono() - t0) / 1000;
  for (const h of hosts) await down(h);
  const total = rows.reduce((s, r) => s + Number(r.calls), 0);
  console.log(
    `\n## idle database load: 3 hosts x 20 programs${singletons ? ', all singletons' : ''} (leaseTtl 15 s, window ${Math.round(seconds)} s)`,
  );
  console.log(`queries/s ${(total / seconds).toFixed(2)} (per host ${(total / seconds / 3).toFixed(2)})`);
  for (const r of rows.slice(0, 4))
    console.log(`  ${(Number(r.calls) / seconds).toFixed(2)}/s  ${r.query.replace(/\s+/g, ' ').slice(0, 90)}`);
}

const cluster = await Cluster.create();
try {
  console.log('measured under load (other work running) unless rerun on a quiet machine');
  await failover(cluster);
  await idleLoad(cluster, false);
  await idleLoad(cluster, true);
} finally {
  await cluster.destroy();
  rmSync(work, { recursive: true, force: true });
}

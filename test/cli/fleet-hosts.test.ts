// A fleet across hosts with real daemons, real processes and the real PostgreSQL: three
// daemons on this machine, each with its own home and host name, share one schema. A
// `placement: singleton` program appends heartbeats to a shared file; through SIGKILL of the
// holder's daemon, a cut of its database connections, SIGSTOP of its daemon for longer than
// the lease, and a clean shutdown, no two tenures ever overlap and another host takes over
// within TTL + 2 s each time. Bad fleet input exits 2 naming its path.
//
// Margins, chosen so that a loaded 2-core machine cannot fail a correct implementation:
// - No overlap is judged from the heartbeats' own CLOCK_MONOTONIC stamps, each taken before
//   its write, grouped by (host, pid): a tenure. Scheduling delays only make a recorded tenure
//   shorter than the process's life, never longer, so a correct fence cannot show an overlap
//   however slow the machine is. By design the old program is gone a margin (TTL/10, 200 ms)
//   before the lease expires, and the new host starts only after the expiry.
// - Takeover: after a holder stops renewing, its lease runs out at most TTL after its last
//   renewal; a standby host tries every TTL/3 (667 ms); the program then starts (a node boot).
//   With TTL = 2 s that is at most 2.67 s + the start, inside the TTL + 2 s = 4 s.
// - A SIGKILLed host shows as unreachable once its rows are older than TTL, so at most TTL after
//   its death: no status call that began more than TTL (+ 200 ms) after the SIGKILL may still
//   see it up. Judged by when each call began, a slow CLI round trip cannot fail the check.
// - killTimeout 200 ms: the heartbeat program exits on SIGTERM at once. A renewal then has
//   TTL - TTL/3 - margin - killTimeout = 933 ms to come back before the holder fences itself
//   (a false fence would only be one more takeover, never an overlap).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { monotonicMs } from '../../src/fleet/fence-protocol.js';
import { tenures, type Tenure } from '../fleet/heartbeats.js';
import { DATABASE_URL, sql, uniqueSchema } from '../queue/helpers.js';
import { CHROMIUM, launchChromium } from './dashboard-browser.js';
import { CLI, cli, processesWith, startDaemon, tempProject, waitFor, type Daemon } from './helpers.js';

const BEAT = fileURLToPath(new URL('./fixtures/beat.js', import.meta.url));
const TRACE = fileURLToPath(new URL('./fixtures/trace-loads.js', import.meta.url));
const TTL = 2000;
const KILL_TIMEOUT = 200;

interface FleetBody {
  self: string;
  hosts: { host: string; state: string }[];
  programs: { host: string; name: string; instance: number; state: string; lastState?: string; pid: number | null }[];
}

/** Every pair of tenures is disjoint in time (a host never runs two either). */
function assertNoOverlap(list: Tenure[]): void {
  for (let i = 1; i < list.length; i++) {
    const prev = list[i - 1]!;
    const cur = list[i]!;
    assert.ok(
      cur.from > prev.to,
      `overlap: ${prev.host} (pid ${prev.pid}) ran until ${prev.to}, ${cur.host} (pid ${cur.pid}) began at ${cur.from}`,
    );
  }
}

describe('a fleet across hosts (three daemons, PostgreSQL)', () => {
  const schema = uniqueSchema('fleet');
  const group = `${schema}_g`;
  const names = ['a', 'b', 'c'] as const;
  const role = (h: string) => `${schema}_${h}`;
  const projects = new Map<string, ReturnType<typeof tempProject>>();
  const daemons = new Map<string, Daemon>();
  const beats = () => `${projects.get('a')!.dir}/beats`;

  /** Each host logs in as a role of its own (so its connections alone can be cut) acting as one group role that owns the schema. */
  function url(host: string): string {
    const u = new URL(DATABASE_URL);
    u.username = role(host);
    u.password = '';
    u.searchParams.set('options', `-c role=${group}`);
    return u.toString();
  }

  /** Host b serves the dashboard, whose fleet section groups every host's instances. */
  function config(host: string): string {
    return `dashboard: ${host === 'b' ? '{ port: 0 }' : 'false'}
fleet: { database: ${JSON.stringify(url(host))}, host: ${host}, leaseTtl: ${TTL}, schema: ${schema} }
programs:
  beat:
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(BEAT)}, beat, ${host}, ${JSON.stringify(beats())}]
    placement: singleton
    killTimeout: ${KILL_TIMEOUT}
  report:
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(BEAT)}, idle, ${host}, ${JSON.stringify(beats())}]
    after: [beat]
  web:
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(BEAT)}, idle, ${host}, ${JSON.stringify(beats())}]
`;
  }

  before(async () => {
    await sql(`CREATE ROLE "${group}" NOLOGIN`);
    for (const h of names) await sql(`CREATE ROLE "${role(h)}" LOGIN IN ROLE "${group}"`);
    await sql(`CREATE SCHEMA "${schema}" AUTHORIZATION "${group}"`);
    // The migrations say CREATE SCHEMA IF NOT EXISTS, which asks for CREATE on the database.
    await sql(`GRANT CREATE ON DATABASE "${new URL(DATABASE_URL).pathname.slice(1)}" TO "${group}"`);
    for (const h of names) projects.set(h, tempProject(''));
    for (const h of names) projects.get(h)!.write(config(h));
  });

  after(async () => {
    for (const d of daemons.values()) {
      if (d.exitCode === undefined) process.kill(d.pid, 'SIGCONT');
      await d.stop();
    }
    for (const pid of processesWith(projects.get('a')?.dir ?? '\0')) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const roles = [group, ...names.map(role)].map((r) => `'${r}'`).join(', ');
    await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (${roles})`);
    await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    for (const r of [...names.map(role), group]) {
      await sql(`DROP OWNED BY "${r}"`);
      await sql(`DROP ROLE "${r}"`);
    }
    for (const p of projects.values()) p.cleanup();
  });

  async function start(host: string): Promise<Daemon> {
    const p = projects.get(host)!;
    const d = await startDaemon(p.dir, p.home);
    daemons.set(host, d);
    return d;
  }

  async function fleet(via: string): Promise<FleetBody> {
    const r = await cli(['status', '--fleet', '--json', '--home', projects.get(via)!.home]);
    if (r.code !== 0) throw new Error(`status --fleet via ${via}: ${r.code} ${r.stderr}`);
    return JSON.parse(r.stdout) as FleetBody;
  }

  /** The host of the tenure that is beating now (its last heartbeat within 300 ms). */
  async function holder(): Promise<Tenure> {
    return waitFor(
      'a host to run the singleton',
      () => {
        const last = tenures(beats()).at(-1);
        return last !== undefined && monotonicMs() - last.to < 300 ? last : undefined;
      },
      20_000,
    );
  }

  /** Waits for a tenure on another host than `old` to begin after `t0`; returns how long after t0. */
  async function takeover(old: Tenure, t0: number): Promise<{ tenure: Tenure; ms: number }> {
    const tenure = await waitFor(
      `another host than ${old.host} to run the singleton`,
      () => tenures(beats()).find((t) => t.host !== old.host && t.from > old.from),
      20_000,
    );
    return { tenure, ms: tenure.from - t0 };
  }

  /** GET /api/fleet needs the token; the page shows one group per host, the singleton running in one. */
  async function dashboardGroupsHosts(d: Daemon, home: string): Promise<void> {
    const base = d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
    const token = readFileSync(`${home}/token`, 'utf8').trim();
    assert.equal((await fetch(`${base}api/fleet`)).status, 403, 'no token, no fleet');
    const api = (await (await fetch(`${base}api/fleet`, { headers: { authorization: `Bearer ${token}` } })).json()) as FleetBody;
    assert.deepEqual(
      api.hosts.map((h) => h.host),
      ['a', 'b', 'c'],
    );
    if (!existsSync(CHROMIUM)) {
      assert.ok(!process.env.CI, 'under CI Chromium is installed');
      return; // no browser here: the API above is what the page renders
    }
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${base}#token=${token}`);
      for (const h of names) {
        const group = page.locator(`#fleet [data-host="${h}"]`);
        await group.locator('[data-field="host-state"]').filter({ hasText: 'up' }).waitFor({ timeout: 15_000 });
        await waitFor(`three programs under ${h}`, async () => (await group.locator('tr[data-program]').count()) === 3 || undefined);
      }
      // One group runs the singleton, the two others show it standby (on a loaded machine the
      // holder may have changed since status --fleet was read: the page follows).
      const beat = page.locator('#fleet tr[data-program="beat"] [data-field="state"]');
      await waitFor('one host running beat, two standby', async () => {
        const states = await beat.allTextContents();
        return (states.filter((x) => x === 'running').length === 1 && states.filter((x) => x === 'standby').length === 2) || undefined;
      });
    } finally {
      await close();
    }
  }

  const others = (host: string) => names.filter((h) => h !== host && daemons.get(h)?.exitCode === undefined);

  test('bad fleet input exits 2 naming its path, before any program starts', async () => {
    const cases: Array<[string, RegExp]> = [
      ['pglite:///var/lib/fleet', /^fleet\.database: .*PGlite/m],
      [new URL(`/bosun_missing_${process.pid}`, DATABASE_URL).toString(), /^fleet\.database: cannot use .*does not exist/m],
    ];
    for (const [database, pattern] of cases) {
      const p = tempProject(
        `dashboard: false\nfleet: { database: ${JSON.stringify(database)}, host: x, schema: ${schema} }\nprograms:\n  web: { command: [node, -e, "setInterval(() => {}, 1000)"] }\n`,
      );
      const r = await cli(['run', '--config', p.config], { timeoutMs: 30_000 });
      p.cleanup();
      assert.equal(r.code, 2, `${database}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    const p = tempProject(
      `dashboard: false\nfleet: { database: ${JSON.stringify(DATABASE_URL)}, host: x, leaseTtl: 2s, schema: ${schema} }\nprograms:\n  beat: { command: [node, -e, "setInterval(() => {}, 1000)"], placement: singleton, killTimeout: 5s }\n`,
    );
    const r = await cli(['run', '--config', p.config]);
    p.cleanup();
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^fleet\.leaseTtl: 2000ms cannot fence programs\.beat \(killTimeout 5000ms\)/m);
  });

  test('a daemon without fleet never loads the PostgreSQL driver and says so to status --fleet; one with fleet loads it', async () => {
    const loads = async (yaml: string, check: (home: string) => Promise<void>) => {
      const p = tempProject(yaml);
      const trace = join(p.dir, 'loads');
      const child = spawn(process.execPath, ['--import', TRACE, CLI, 'run', p.config], {
        env: { ...process.env, BOSUN_TRACE_LOADS: trace },
        stdio: 'ignore',
      });
      try {
        await waitFor('the daemon to answer', async () => (await cli(['status', '--home', p.home])).code === 0 || undefined);
        await check(p.home);
        assert.equal((await cli(['shutdown', '--home', p.home])).code, 0);
        return readFileSync(trace, 'utf8')
          .split('\n')
          .filter((u) => u.includes('/node_modules/pg/'));
      } finally {
        child.kill('SIGKILL');
        p.cleanup();
      }
    };
    const idle = `command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(BEAT)}, idle, x, y]`;
    const without = await loads(`dashboard: false\nprograms:\n  web: { ${idle} }\n`, async (home) => {
      const r = await cli(['status', '--fleet', '--home', home]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not part of a fleet: its config has no fleet\.database/);
    });
    assert.deepEqual(without, [], 'no pg module without fleet');
    const withFleet = await loads(
      `dashboard: false\nfleet: { database: ${JSON.stringify(DATABASE_URL)}, host: loads, schema: ${schema}_loads }\nprograms:\n  web: { ${idle} }\n`,
      async () => {},
    );
    assert.ok(withFleet.length > 0, 'the trace sees pg when the config has fleet');
    await sql(`DROP SCHEMA IF EXISTS "${schema}_loads" CASCADE`);
  });

  test('a singleton runs on one host, the others show standby; status --fleet lists every host and program; a second daemon claiming a host name exits 2 naming both', async () => {
    for (const h of names) await start(h);
    const first = await holder();
    const body = await waitFor('every host to report', async () => {
      const b = await fleet('a');
      return b.programs.length === 9 && b.programs.filter((p) => p.name === 'beat' && p.state === 'standby').length === 2 ? b : undefined;
    });
    assert.deepEqual(
      body.hosts.map((h) => [h.host, h.state]),
      [
        ['a', 'up'],
        ['b', 'up'],
        ['c', 'up'],
      ],
    );
    for (const p of body.programs) assert.ok(names.includes(p.host as (typeof names)[number]), `host on every row: ${JSON.stringify(p)}`);
    const beatRows = body.programs.filter((p) => p.name === 'beat');
    assert.deepEqual(
      beatRows.filter((p) => p.state === 'running').map((p) => p.host),
      [first.host],
    );
    // What comes after the singleton runs on its holder only; a standby program is not ready.
    for (const p of body.programs.filter((x) => x.name === 'report'))
      assert.equal(p.state, p.host === first.host ? 'running' : 'waiting', JSON.stringify(p));
    for (const p of body.programs.filter((x) => x.name === 'web')) assert.equal(p.state, 'running');
    const table = await cli(['status', '--fleet', '--home', projects.get('b')!.home]);
    assert.equal(table.code, 0, table.stderr);
    for (const h of names) assert.match(table.stdout, new RegExp(`^${h}( \\*)?\\s+up`, 'm'));
    assert.match(table.stdout, /^\S+\s+beat\s+0\s+-\s+standby/m);
    await dashboardGroupsHosts(daemons.get('b')!, projects.get('b')!.home);
    // Same host name, another home: refused, both daemons named.
    const dup = tempProject(config('a'));
    const r = await cli(['run', '--config', dup.config], { timeoutMs: 30_000 });
    dup.cleanup();
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^fleet\.host: host name 'a' is claimed by a live daemon: pid \d+ .*this daemon is pid \d+/m);
  });

  test('chaos: SIGKILL, a cut connection, SIGSTOP past the lease and a clean shutdown of the holder; no overlap, another host within TTL + 2 s each time', async () => {
    const bound = TTL + 2000;
    const log: string[] = [];

    // 1. SIGKILL of the holder's daemon: its program outlives it only until the fence stops it.
    let old = await holder();
    let t0 = monotonicMs();
    process.kill(daemons.get(old.host)!.pid, 'SIGKILL');
    const watcher = others(old.host)[0]!;
    const seenUp: number[] = [];
    const [killed, unreachableMs] = await Promise.all([
      takeover(old, t0),
      waitFor(
        `${old.host} to show as unreachable`,
        async () => {
          const began = monotonicMs() - t0;
          const b = await fleet(watcher);
          const h = b.hosts.find((x) => x.host === old.host);
          if (h?.state === 'up') seenUp.push(began);
          if (h?.state !== 'unreachable') return undefined;
          assert.ok(
            b.programs.filter((p) => p.host === old.host).every((p) => p.state === 'unreachable'),
            'its rows are not shown as running',
          );
          return monotonicMs() - t0;
        },
        20_000,
      ),
    ]);
    log.push(
      `SIGKILL of ${old.host}: ${killed.tenure.host} after ${killed.ms}ms; unreachable seen after ${unreachableMs}ms (last seen up by a call begun at ${Math.max(0, ...seenUp)}ms)`,
    );
    assert.ok(killed.ms <= bound, log.at(-1));
    assert.ok(
      seenUp.every((began) => began <= TTL + 200),
      log.at(-1),
    );
    // The host comes back on its home and takes its name again (its predecessor there is dead).
    await daemons.get(old.host)!.exited;
    await start(old.host);

    // 2. The holder's database connections cut: its role may not log in and its sessions end.
    old = await holder();
    const cut = role(old.host);
    t0 = monotonicMs();
    await sql(`ALTER ROLE "${cut}" NOLOGIN`);
    await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [cut]);
    const severed = await takeover(old, t0);
    await sql(`ALTER ROLE "${cut}" LOGIN`);
    log.push(`connections of ${old.host} cut: ${severed.tenure.host} after ${severed.ms}ms`);
    assert.ok(severed.ms <= bound, log.at(-1));

    // 3. SIGSTOP of the holder's daemon for longer than the lease: only the fence can act.
    old = await holder();
    const frozen = daemons.get(old.host)!;
    t0 = monotonicMs();
    process.kill(frozen.pid, 'SIGSTOP');
    const stopped = await takeover(old, t0);
    await waitFor('the lease to be long over', () => monotonicMs() - t0 > TTL + 500 || undefined);
    process.kill(frozen.pid, 'SIGCONT');
    log.push(`SIGSTOP of ${old.host}: ${stopped.tenure.host} after ${stopped.ms}ms`);
    assert.ok(stopped.ms <= bound, log.at(-1));
    // Thawed, it finds the lease taken and stays standby.
    await waitFor(
      `${old.host} to show standby after it thawed`,
      async () =>
        (await fleet(old.host)).programs.some((p) => p.host === old.host && p.name === 'beat' && p.state === 'standby') || undefined,
    );

    // 4. A clean shutdown of the holder releases the lease.
    old = await holder();
    t0 = monotonicMs();
    const shut = cli(['shutdown', '--home', projects.get(old.host)!.home], { timeoutMs: 20_000 });
    const released = await takeover(old, t0);
    assert.equal((await shut).code, 0);
    log.push(`shutdown of ${old.host}: ${released.tenure.host} after ${released.ms}ms`);
    assert.ok(released.ms <= bound, log.at(-1));
    const gone = await fleet(released.tenure.host);
    assert.equal(gone.hosts.find((h) => h.host === old.host)?.state, 'gone');

    // Over the whole run: five tenures (one per event and the first), none overlapping.
    await new Promise((r) => setTimeout(r, 100));
    const all = tenures(beats());
    assert.ok(all.length >= 5, `tenures: ${JSON.stringify(all)}`);
    assertNoOverlap(all);
    const gaps = all.slice(1).map((t, i) => t.from - all[i]!.to);
    process.stdout.write(`# ${log.join('; ')}; gaps between tenures ${gaps.join(', ')} ms\n`);
  });
});

// The fleet's whole supervision policy on a TestClock with fake children: backoff with jitter,
// intensity per instance, group strategies across programs in `after` order, readyTimeout,
// `waiting`, commands that do not count, `name:index` targets and serialized reloads. Real
// processes are covered by test/cli; here every decision is checked in milliseconds.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { NotFoundError } from '../../src/core/errors.js';
import { validateConfig } from '../../src/fleet/config.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { RollingRestartError } from '../../src/fleet/rolling.js';
import type { ProgramStatus } from '../../src/fleet/status.js';
import { TestClock } from '../../src/testing/test-clock.js';
import { FakeSpawner, type FakeChild } from './fake-spawn.js';

/** A small seeded PRNG (mulberry32), so jitter is the same on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Rig {
  fleet: Fleet;
  clock: TestClock;
  spawner: FakeSpawner;
  events: string[];
  dir: string;
  config(raw: object): ReturnType<typeof validateConfig>;
  row(name: string, index?: number): ProgramStatus;
  /** Lets queued work run at the current time (fake exits come on setImmediate). */
  flush(): Promise<void>;
  /**
   * Runs queued work at the current time until `cond` holds: stopping a run closes its log
   * file, real I/O whose completion no fixed number of turns covers on a loaded machine.
   */
  until(cond: () => boolean, what: string): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    r.fleet.kill();
    await r.flush();
    await r.fleet.wait().catch(() => {});
    rmSync(r.dir, { recursive: true, force: true });
  }
});

function rig(raw: object, setup: (s: FakeSpawner, clock: TestClock) => void = () => {}): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-fleet-'));
  const config = (r: object) => validateConfig(r, join(dir, 'bosun.config.yaml'), { checkFiles: false });
  const clock = new TestClock();
  const spawner = new FakeSpawner();
  setup(spawner, clock);
  const fleet = new Fleet({ config: config(raw), clock, spawn: spawner.spawn, random: seeded(7) });
  const events: string[] = [];
  fleet.on('event', (e) => events.push(`${e.program}[${e.instance}] ${e.event}${e.details === '' ? '' : ` ${e.details}`}`));
  const until = async (cond: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      await clock.advance(0);
      if (cond()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${events.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  // Settled: no instance between an exit and the decision on it, and every fake that exited
  // has been seen to exit (its log file closed, which is real I/O).
  const quiet = () => {
    const rows = fleet.status().programs;
    if (rows.some((p) => p.state === 'stopping')) return false;
    const pids = new Set(rows.map((p) => p.pid));
    return spawner.children.every((c) => !c.exited || !pids.has(c.pid ?? null));
  };
  const flush = async () => {
    for (let i = 0; i < 3; i++) await clock.advance(0);
    await until(quiet, 'the fleet to settle');
    for (let i = 0; i < 3; i++) await clock.advance(0);
  };
  const r: Rig = {
    until,
    fleet,
    clock,
    spawner,
    events,
    dir,
    config,
    flush,
    row: (name, index = 0) => fleet.status().programs.find((p) => p.name === name && p.instance === index)!,
  };
  rigs.push(r);
  return r;
}

const node = (...args: string[]) => ['node', ...args];
const delayOf = (line: string | undefined) => Number(/in=(\d+)ms/.exec(line ?? '')?.[1]);

/** Prints `ready now` `afterMs` after spawn for the programs named. */
const readyAfter =
  (afterMs: number, ...names: string[]) =>
  (s: FakeSpawner, clock: TestClock) => {
    s.onSpawn = (c: FakeChild) => {
      if (names.includes(c.program)) clock.setTimeout(() => c.print('ready now'), afterMs);
    };
  };

describe('fleet policy (TestClock, fake children)', () => {
  test('instances that crash together restart after jittered delays, not in lockstep', async () => {
    const r = rig({ programs: { web: { command: node('web.js'), instances: 4 } }, supervisor: { backoff: { initial: '1s' } } });
    await r.flush();
    assert.equal(r.spawner.live('web').length, 4);
    for (const c of r.spawner.live('web')) c.exit(1);
    await r.flush();
    const delays = r.events.filter((e) => / restarting /.test(e)).map(delayOf);
    assert.equal(delays.length, 4, r.events.join('\n'));
    for (const d of delays) assert.ok(d >= 900 && d <= 1100, `${d} is 1s ±10%`);
    assert.ok(new Set(delays).size > 1, `delays differ: ${delays.join(', ')}`);
    assert.ok(r.fleet.status().programs.every((p) => p.state === 'backoff' && p.restarts === 1));
    // Each comes back at its own time.
    const sorted = [...delays].sort((a, b) => a - b);
    await r.clock.advance(sorted[0]!);
    assert.ok(r.spawner.live('web').length >= 1 && r.spawner.live('web').length < 4, 'the first is back before the last');
    await r.clock.advance(sorted[3]! - sorted[0]!);
    await r.flush();
    assert.equal(r.spawner.live('web').length, 4);
  });

  test('past its intensity an instance is failed with reason intensity; its sibling keeps running', async () => {
    const r = rig({
      supervisor: { intensity: 2, period: '30s', backoff: { initial: '100ms', factor: 1 } },
      programs: { web: { command: node('web.js'), instances: 2 } },
    });
    await r.flush();
    const steady = r.spawner.one('web', 1).pid;
    for (let i = 0; i < 3; i++) {
      r.spawner.one('web', 0).exit(3);
      await r.flush();
      if (i < 2) await r.clock.advance(110);
      await r.flush();
    }
    const failed = r.row('web', 0);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.reason, 'intensity');
    assert.equal(failed.restarts, 2);
    assert.match(failed.detail!, /more than 2 restarts in 30000ms \(last exit code=3/);
    assert.equal(r.row('web', 1).state, 'running');
    assert.equal(r.row('web', 1).pid, steady);
    assert.ok(r.events.includes(`web[0] failed reason=intensity detail=${JSON.stringify(failed.detail)}`), r.events.join('\n'));
    // A start by command begins a fresh count, and is not itself a restart.
    await r.fleet.start('web:0');
    await r.flush();
    assert.equal(r.row('web', 0).state, 'running');
    assert.equal(r.row('web', 0).restarts, 2);
  });

  test('readyTimeout: not ready in time is a crash with reason ready-timeout, restarted with backoff', async () => {
    const r = rig({ programs: { api: { command: node('api.js'), ready: { log: 'listening' }, readyTimeout: '2s' } } });
    await r.flush();
    assert.equal(r.row('api').state, 'starting');
    await r.clock.advance(2000);
    await r.flush();
    const row = r.row('api');
    assert.equal(row.state, 'backoff');
    assert.equal(row.reason, 'ready-timeout');
    assert.equal(row.restarts, 1);
    assert.ok(
      r.events.some((e) => e.startsWith('api[0] exited ') && e.endsWith(' reason=ready-timeout')),
      r.events.join('\n'),
    );
    assert.equal(r.spawner.children[0]!.signals[0], 'SIGTERM', 'killed with its killSignal');
  });

  test('a program waits, naming what it waits for, until the programs in its after are ready', async () => {
    const r = rig({
      programs: {
        web: { command: node('web.js'), after: ['db', 'cache'] },
        db: { command: node('db.js'), ready: { log: 'ready now' } },
        cache: { command: node('cache.js') },
      },
    });
    await r.flush();
    assert.equal(r.row('web').state, 'waiting');
    // cache comes after db in start order, and db holds it back until ready.
    assert.deepEqual(r.row('web').waitingFor, ['db', 'cache']);
    assert.equal(r.spawner.live('cache').length, 0);
    assert.equal(r.spawner.live('web').length, 0);
    r.spawner.one('db').print('ready now');
    await r.flush();
    assert.equal(r.row('db').state, 'ready');
    assert.equal(r.row('web').state, 'running');
    assert.equal(r.row('web').waitingFor, undefined);
    // A dependency that fails for good leaves its dependents waiting, not started.
    const r2 = rig(
      {
        supervisor: { intensity: 0 },
        programs: { dep: { command: node('dep.js'), after: ['ghost'] }, ghost: { command: ['/no/such/binary'] } },
      },
      (s) => s.missing.add('/no/such/binary'),
    );
    await r2.flush();
    assert.equal(r2.row('ghost').state, 'failed');
    assert.equal(r2.row('ghost').reason, 'intensity');
    assert.match(r2.row('ghost').detail!, /spawn-error/);
    assert.equal(r2.row('dep').state, 'waiting');
    assert.deepEqual(r2.row('dep').waitingFor, ['ghost']);
  });

  test('a program with a ready check holds back the next program in start order until it is ready', async () => {
    const r = rig(
      { programs: { slow: { command: node('slow.js'), ready: { log: 'ready now' } }, next: { command: node('next.js') } } },
      readyAfter(500, 'slow'),
    );
    await r.flush();
    assert.equal(r.row('slow').state, 'starting');
    assert.equal(r.spawner.live('next').length, 0, 'next waits for slow to be ready (start_link)');
    assert.equal(r.row('next').state, 'waiting');
    await r.clock.advance(500);
    await r.flush();
    assert.equal(r.row('slow').state, 'ready');
    assert.equal(r.row('next').state, 'running');
    assert.deepEqual(
      r.events.map((e) => e.split(' ').slice(0, 2).join(' ')),
      ['slow[0] started', 'slow[0] ready', 'next[0] started'],
    );
  });

  test('restarts by command do not count; name:index acts on one instance; unknown targets are NotFoundError', async () => {
    const r = rig({ programs: { web: { command: node('web.js'), instances: 2 } } });
    await r.flush();
    const [p0, p1] = [r.row('web', 0).pid, r.row('web', 1).pid];
    await r.fleet.restart('web:1');
    assert.equal(r.row('web', 0).pid, p0, 'instance 0 untouched');
    assert.notEqual(r.row('web', 1).pid, p1);
    assert.equal(r.row('web', 1).reason, 'command');
    await r.fleet.restart('web');
    assert.notEqual(r.row('web', 0).pid, p0);
    assert.deepEqual(
      r.fleet.status().programs.map((p) => [p.state, p.restarts]),
      [
        ['running', 0],
        ['running', 0],
      ],
    );
    await r.fleet.stop('web:0');
    assert.equal(r.row('web', 0).state, 'stopped');
    assert.equal(r.row('web', 0).pid, null);
    assert.equal(r.row('web', 1).state, 'running');
    await r.fleet.start('web');
    assert.equal(r.row('web', 0).state, 'running');
    await assert.rejects(
      r.fleet.restart('nope'),
      (e: unknown) => e instanceof NotFoundError && /unknown program 'nope' \(known: web\)/.test(e.message),
    );
    await assert.rejects(r.fleet.stop('web:2'), (e: unknown) => e instanceof NotFoundError && /no instance 2/.test(e.message));
    assert.equal(r.spawner.live('web').length, 2);
  });

  test('two reloads at the same moment apply in arrival order and leave no extra process', async () => {
    const raw = (value: string) => ({ programs: { a: { command: node('a.js'), env: { VALUE: value } }, b: { command: node('b.js') } } });
    const r = rig(raw('one'));
    await r.flush();
    const bPid = r.row('b').pid;
    const first = r.fleet.reload(r.config(raw('two')));
    const second = r.fleet.reload(r.config(raw('three')));
    await r.flush();
    assert.deepEqual(await first, { added: [], removed: [], changed: ['a'] });
    assert.deepEqual(await second, { added: [], removed: [], changed: ['a'] });
    await r.flush();
    const live = r.spawner.live('a');
    assert.equal(live.length, 1, 'one copy of a');
    assert.equal(live[0]!.env['VALUE'], 'three');
    assert.equal(r.row('a').pid, live[0]!.pid, 'status shows the copy that runs');
    assert.equal(r.row('b').pid, bPid, 'b is unchanged');
    await r.fleet.stop('a');
    assert.equal(r.spawner.live('a').length, 0, 'stop stops it');
  });

  test('reload puts a changed program back in its place: shutdown still stops dependents first', async () => {
    const raw = (value: string) => ({
      programs: { db: { command: node('db.js'), env: { V: value } }, web: { command: node('web.js'), after: ['db'] } },
    });
    const r = rig(raw('1'));
    await r.flush();
    await r.fleet.reload(r.config(raw('2')));
    await r.flush();
    r.events.length = 0;
    r.fleet.kill();
    await r.flush();
    await r.fleet.wait();
    const exits = r.events.filter((e) => / exited /.test(e)).map((e) => e.split(' ')[0]);
    assert.deepEqual(exits, ['web[0]', 'db[0]']);
  });

  for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
    test(`${strategy}: a crash stops the group in reverse start order and restarts it in start order after the backoff`, async () => {
      const r = rig(
        {
          supervisor: { strategy, backoff: { initial: '300ms' } },
          programs: {
            a: { command: node('a.js'), ready: { log: 'ready now' } },
            b: { command: node('b.js'), after: ['a'] },
            c: { command: node('c.js') },
          },
        },
        readyAfter(150, 'a'),
      );
      await r.flush();
      await r.clock.advance(150);
      await r.flush();
      assert.deepEqual(
        r.fleet.status().programs.map((p) => p.state),
        ['ready', 'running', 'running'],
      );
      const before = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, r.row(n).pid]));
      r.events.length = 0;
      r.spawner.one('b').exit(null, 'SIGKILL');
      const expectedStops = strategy === 'one_for_all' ? ['b[0]', 'c[0]', 'a[0]'] : ['b[0]', 'c[0]'];
      const stops = () => r.events.filter((e) => / stopped$/.test(e) || / exited .*SIGKILL/.test(e)).map((e) => e.split(' ')[0]);
      await r.until(() => stops().length === expectedStops.length, 'the group to stop');
      const delay = delayOf(r.events.find((e) => e.startsWith('b[0] restarting')));
      assert.ok(delay >= 270 && delay <= 330, r.events.join('\n'));
      assert.deepEqual(stops(), expectedStops, r.events.join('\n'));
      await r.clock.advance(delay);
      if (strategy === 'one_for_all') {
        await r.until(() => r.events.includes(`a[0] started pid=${r.row('a').pid}`), 'a to start');
        await r.clock.advance(150);
      }
      const expectedStarts =
        strategy === 'one_for_all' ? ['a[0] started', 'a[0] ready', 'b[0] started', 'c[0] started'] : ['b[0] started', 'c[0] started'];
      const starts = () => r.events.filter((e) => / (started|ready)/.test(e)).map((e) => e.split(' ').slice(0, 2).join(' '));
      await r.until(() => starts().length === expectedStarts.length, 'the group to start again');
      assert.deepEqual(starts(), expectedStarts, r.events.join('\n'));
      assert.deepEqual(
        r.fleet.status().programs.map((p) => [p.name, p.restarts]),
        [
          ['a', 0],
          ['b', 1],
          ['c', 0],
        ],
      );
      if (strategy === 'rest_for_one') assert.equal(r.row('a').pid, before.a, 'a is before b: untouched');
      assert.equal(r.events.filter((e) => / restarting /.test(e)).length, 1, 'only the crashed instance says restarting');
    });
  }
});

// ---- rolling restarts, watch and cronRestart (issue 14) ----------------------------------

describe('fleet ops policy (TestClock, fake children)', () => {
  /** Events of the `web` program without their details' pids, e.g. `web[0] started`. */
  const kinds = (events: string[]) => events.map((e) => e.split(' ').slice(0, 2).join(' '));

  test('a rolling restart starts each replacement, waits until it is ready, then stops the old process, instance by instance', async () => {
    const r = rig({ programs: { web: { command: node('web.js'), instances: 2, ready: { log: 'ready now' } } } }, readyAfter(100, 'web'));
    await r.flush();
    await r.clock.advance(100);
    await r.flush();
    await r.clock.advance(100);
    await r.flush();
    const before = [r.row('web', 0).pid, r.row('web', 1).pid];
    const oldChildren = [r.spawner.one('web', 0), r.spawner.one('web', 1)];
    r.events.length = 0;
    const roll = r.fleet.restart('web', { rolling: true });
    await r.until(() => r.spawner.live('web', 0).length === 2, 'the replacement of web[0]');
    // Both run until the replacement is ready: the old one has not been signalled.
    assert.deepEqual(oldChildren[0]!.signals, []);
    assert.equal(r.row('web', 0).pid, before[0], 'status shows the old process while it serves');
    await r.clock.advance(100);
    await r.until(() => r.spawner.live('web', 1).length === 2, 'the replacement of web[1]');
    assert.deepEqual(oldChildren[0]!.signals, ['SIGTERM']);
    assert.deepEqual(oldChildren[1]!.signals, [], 'instance 1 is replaced only after instance 0');
    await r.clock.advance(100);
    await roll;
    await r.flush();
    assert.deepEqual(
      kinds(r.events),
      ['web[0] started', 'web[0] ready', 'web[0] exited', 'web[1] started', 'web[1] ready', 'web[1] exited'],
      r.events.join('\n'),
    );
    assert.ok(r.events[0]!.includes(`replacing=${before[0]}`), r.events[0]);
    const after = r.fleet.status().programs;
    assert.deepEqual(
      after.map((p) => [p.state, p.restarts, p.reason]),
      [
        ['ready', 0, 'command'],
        ['ready', 0, 'command'],
      ],
    );
    assert.ok(after.every((p, i) => p.pid !== before[i] && p.pid === r.spawner.one('web', i).pid));
    assert.equal(r.spawner.live('web').length, 2);
  });

  test('a replacement that is not ready within readyTimeout stops the roll: the old process runs on and status says why', async () => {
    const r = rig(
      { programs: { web: { command: node('web.js'), instances: 2, ready: { log: 'ready now' }, readyTimeout: '2s' } } },
      readyAfter(50, 'web'),
    );
    await r.flush();
    for (let i = 0; i < 2; i++) {
      await r.clock.advance(50);
      await r.flush();
    }
    const before = [r.row('web', 0).pid, r.row('web', 1).pid];
    r.spawner.onSpawn = undefined; // replacements never print their ready line
    const roll = r.fleet.restart('web', { rolling: true });
    await r.until(() => r.spawner.live('web', 0).length === 2, 'the replacement of web[0]');
    const replacement = r.spawner.live('web', 0).find((c) => c.pid !== before[0])!;
    await r.clock.advance(2000);
    await assert.rejects(
      roll,
      (e: unknown) =>
        e instanceof RollingRestartError &&
        e.code === 'ERR_ROLLING_RESTART' &&
        /instance 0 keeps its old process/.test(e.message) &&
        /instance 1 was not restarted/.test(e.message),
    );
    await r.flush();
    assert.ok(replacement.exited, 'the replacement was stopped');
    assert.deepEqual(replacement.signals, ['SIGTERM']);
    const row = r.row('web', 0);
    assert.equal(row.pid, before[0]);
    assert.equal(row.state, 'ready');
    assert.equal(row.reason, 'ready-timeout');
    assert.match(
      row.detail!,
      /rolling restart stopped at instance 0: its replacement \(pid \d+\) did not become ready \(.*not ready within 2000 ms/,
    );
    assert.equal(r.row('web', 1).pid, before[1], 'the roll did not go on to instance 1');
    assert.equal(r.spawner.live('web').length, 2);
  });

  test('rolling: true makes restarts rolling; rolling: false on the command restarts at once', async () => {
    const r = rig({ programs: { web: { command: node('web.js'), instances: 2, rolling: true } } });
    await r.flush();
    const first = r.spawner.live('web');
    const rolled = r.fleet.restart('web');
    await rolled;
    await r.flush();
    // Without a ready check a replacement is ready once spawned: each old one stops after its replacement exists.
    assert.deepEqual(
      kinds(r.events.slice(-4)),
      ['web[0] started', 'web[0] exited', 'web[1] started', 'web[1] exited'],
      r.events.join('\n'),
    );
    assert.ok(first.every((c) => c.exited));
    r.events.length = 0;
    await r.fleet.restart('web', { rolling: false });
    await r.flush();
    // Every old process is gone before the first new one starts.
    assert.deepEqual(
      kinds(r.events).map((e) => e.split(' ')[1]),
      ['exited', 'stopped', 'exited', 'stopped', 'started', 'started'],
      r.events.join('\n'),
    );
    // name:index rolls just that instance.
    const keep = r.row('web', 0).pid;
    await r.fleet.restart('web:1');
    assert.equal(r.row('web', 0).pid, keep);
    assert.deepEqual(
      r.fleet.status().programs.map((p) => p.restarts),
      [0, 0],
    );
  });

  test('a reload of a rolling program replaces its instances one by one with the new settings, and scales', async () => {
    const raw = (value: string, instances: number) => ({
      programs: { web: { command: node('web.js'), instances, rolling: true, env: { VALUE: value } } },
    });
    const r = rig(raw('one', 2));
    await r.flush();
    const old = r.spawner.live('web');
    r.events.length = 0;
    assert.deepEqual(await r.fleet.reload(r.config(raw('two', 3))), { added: [], removed: [], changed: ['web'] });
    await r.flush();
    assert.deepEqual(
      kinds(r.events),
      ['web[0] started', 'web[0] exited', 'web[1] started', 'web[1] exited', 'web[2] started'],
      r.events.join('\n'),
    );
    assert.ok(old.every((c) => c.exited));
    assert.deepEqual(
      r.spawner.live('web').map((c) => c.env['VALUE']),
      ['two', 'two', 'two'],
    );
    assert.deepEqual(
      r.fleet.status().programs.map((p) => p.state),
      ['running', 'running', 'running'],
    );
    await r.fleet.reload(r.config(raw('three', 1)));
    await r.flush();
    assert.deepEqual(
      r.spawner.live('web').map((c) => [c.instance, c.env['VALUE']]),
      [[0, 'three']],
    );
    assert.equal(r.fleet.status().programs.length, 1);
  });

  test('watch: a burst of file changes restarts the program once, after the debounce, with reason watch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-watch-'));
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'node_modules', 'dep'), { recursive: true });
    try {
      const w = rig({ programs: { web: { command: node('web.js'), cwd: dir, watch: { paths: ['src'], debounce: '750ms' } } } });
      await w.flush();
      const pid = w.row('web').pid;
      writeFileSync(join(dir, 'src', 'a.js'), '1');
      writeFileSync(join(dir, 'src', 'b.js'), '2');
      await w.until(() => w.clock.pendingDelays().includes(750), 'the change to be seen');
      await w.clock.advance(749);
      assert.equal(w.row('web').pid, pid, 'not before the debounce');
      writeFileSync(join(dir, 'src', 'a.js'), '3');
      await w.until(() => w.clock.pendingDelays().includes(750), 'the next change to restart the debounce');
      await w.clock.advance(750);
      await w.until(() => w.row('web').pid !== pid && w.row('web').state === 'running', 'the watch restart');
      await w.flush();
      assert.equal(w.row('web').reason, 'watch');
      assert.equal(w.row('web').restarts, 0);
      assert.equal(w.events.filter((e) => / started /.test(e)).length, 2, w.events.join('\n'));
      await w.clock.advance(5000);
      await w.flush();
      assert.equal(w.events.filter((e) => / started /.test(e)).length, 2, 'one restart for the burst');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cronRestart restarts on the schedule, on the fleet clock, with reason cron; a program stopped by command stays stopped', async () => {
    const r = rig({ programs: { web: { command: node('web.js'), cronRestart: '*/10 * * * * *' } } });
    await r.flush();
    const pid = r.row('web').pid;
    await r.clock.advance(9000);
    await r.flush();
    assert.equal(r.row('web').pid, pid);
    await r.clock.advance(1000);
    await r.until(() => r.row('web').pid !== pid && r.row('web').state === 'running', 'the cron restart');
    assert.equal(r.row('web').reason, 'cron');
    await r.fleet.stop('web');
    await r.clock.advance(10_000);
    await r.flush();
    assert.equal(r.row('web').state, 'stopped');
    assert.equal(r.spawner.live('web').length, 0);
  });
});

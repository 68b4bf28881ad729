// placement: singleton on a TestClock: two fleets (hosts a and b) with fake children share one
// memory store, whose leases follow the clock, so election, standby, fencing deadlines and
// takeover are checked to the millisecond. The fence is a recording one here; the real
// watchdog process is test/fleet/fence.test.ts, and three real daemons on PostgreSQL are
// test/cli/fleet-hosts.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { validateConfig } from '../../src/fleet/config.js';
import type { FenceLink } from '../../src/fleet/fence.js';
import { monotonicMs, type HoldMessage } from '../../src/fleet/fence-protocol.js';
import { leaseTiming } from '../../src/fleet/fleet-config.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { HostLink } from '../../src/fleet/host-link.js';
import type { ProgramStatus } from '../../src/fleet/status.js';
import { JobQueue, memoryStore } from '../../src/queue/index.js';
import type { Store } from '../../src/queue/types.js';
import { TestClock } from '../../src/testing/test-clock.js';
import { FakeSpawner, type FakeChild } from './fake-spawn.js';

const TTL = 3000;
const KILL = 500;
const { renewMs, marginMs } = leaseTiming(TTL);

/** Records what a daemon would tell its watchdog. */
class RecordingFence implements FenceLink {
  readonly holds = new Map<string, Omit<HoldMessage, 't' | 'id'>>();
  /** Each hold sent: how far ahead (monotonic ms) its deadline was when it was sent. */
  readonly leads: number[] = [];
  readonly released: string[] = [];
  async ready(): Promise<void> {}
  hold(id: string, h: Omit<HoldMessage, 't' | 'id'>): void {
    this.holds.set(id, h);
    this.leads.push(h.goneBy - monotonicMs());
  }
  release(id: string): void {
    this.holds.delete(id);
    this.released.push(id);
  }
}

type Breakage = false | 'refused' | 'hang';

/**
 * A store whose lease calls fail while `broken` (the database out of reach for this host only):
 * `refused` rejects at once, `hang` never answers until mended (a cut connection whose query
 * waits for TCP to give up), which leaves the lease worker no chance to notice by itself.
 */
function breakable(base: Store): Store & { broken: Breakage } {
  const state: { broken: Breakage; mended: Array<() => void> } = { broken: false, mended: [] };
  return new Proxy(base, {
    get(target, prop) {
      if (prop === 'broken') return state.broken;
      const v = Reflect.get(target, prop) as unknown;
      if (prop === 'tryLease' || prop === 'releaseLease') {
        return (...args: unknown[]) => {
          if (state.broken === 'refused') return Promise.reject(new Error('connection refused'));
          if (state.broken === 'hang')
            return new Promise((_resolve, reject) => state.mended.push(() => reject(new Error('connection reset'))));
          return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    set(_target, prop, value) {
      if (prop !== 'broken') return false;
      state.broken = value as Breakage;
      if (value === false) for (const fn of state.mended.splice(0)) fn();
      return true;
    },
  }) as Store & { broken: Breakage };
}

interface Host {
  name: string;
  fleet: Fleet;
  store: Store & { broken: Breakage };
  fence: RecordingFence;
  spawner: FakeSpawner;
  row(program: string): ProgramStatus;
}

interface Rig {
  clock: TestClock;
  hosts: Host[];
  events: string[];
  /** Runs queued work at the current time until `cond` holds (fakes exit and log files close on real I/O). */
  until(cond: () => boolean, what: string): Promise<void>;
  holder(program?: string): Host | undefined;
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

async function rig(programs: Record<string, object>, names = ['a', 'b']): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-singleton-'));
  const clock = new TestClock();
  const base = memoryStore();
  const events: string[] = [];
  const hosts: Host[] = [];
  const queues: JobQueue[] = [];
  for (const name of names) {
    const store = breakable(base);
    const queue = await JobQueue.open({ store, clock });
    queues.push(queue);
    const fence = new RecordingFence();
    const config = validateConfig(
      { home: join(dir, name), dashboard: false, fleet: { database: 'postgres://x@127.0.0.1/fleet', host: name, leaseTtl: TTL }, programs },
      join(dir, 'bosun.config.yaml'),
      { checkFiles: false },
    );
    const link = new HostLink({ host: name, leaseTtlMs: TTL, queue, fence, clock });
    const spawner = new FakeSpawner();
    const fleet = new Fleet({ config, clock, spawn: spawner.spawn, hosts: link, random: () => 0.5 });
    fleet.on('event', (e) =>
      events.push(`${clock.now()} ${name} ${e.program}[${e.instance}] ${e.event}${e.details === '' ? '' : ` ${e.details}`}`),
    );
    hosts.push({ name, fleet, store, fence, spawner, row: (p) => fleet.status().programs.find((s) => s.name === p)! });
  }
  const until = async (cond: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      await clock.advance(0);
      if (cond()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${events.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  const r: Rig = {
    clock,
    hosts,
    events,
    until,
    holder: (program = 'cron') => {
      const running = hosts.filter((h) => h.spawner.live(program).length > 0);
      assert.ok(running.length <= 1, `${program} runs on ${running.map((h) => h.name).join(' and ')} at once`);
      return running[0];
    },
    close: async () => {
      for (const h of hosts) h.store.broken = false;
      for (const h of hosts) h.fleet.kill();
      for (const h of hosts) {
        for (let i = 0; i < 50 && !(await settledWithin(h.fleet.wait(), 5)); i++) await clock.advance(100);
        await h.fleet.wait().catch(() => {});
      }
      for (const q of queues) await q.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  rigs.push(r);
  return r;
}

async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return done;
}

const cron = { command: ['node', 'cron.js'], placement: 'singleton', killTimeout: KILL };
const other = (h: Host, r: Rig) => r.hosts.find((x) => x !== h)!;

/** Advances the clock in steps of `step` ms up to `ms`, letting work run between steps (renewals are timers that start queries). */
async function advanceBy(r: Rig, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await r.clock.advance(Math.min(step, ms - t));
    for (let i = 0; i < 3; i++) await r.clock.advance(0);
  }
}

describe('placement: singleton (TestClock, fake children, one shared store)', () => {
  test('runs on exactly one host; the other is standby; after waits for it there and a plain program runs everywhere', async () => {
    const r = await rig({ cron, api: { command: ['node', 'api.js'], after: ['cron'] }, web: { command: ['node', 'web.js'] } });
    await r.until(
      () => r.holder() !== undefined && r.hosts.every((h) => h.spawner.live('web').length === 1),
      'cron on one host, web on both',
    );
    const holder = r.holder()!;
    const standby = other(holder, r);
    assert.equal(holder.row('cron').state, 'running');
    assert.equal(standby.row('cron').state, 'standby');
    assert.equal(standby.row('cron').pid, null);
    assert.match(standby.row('cron').detail ?? '', /standby/);
    assert.equal(holder.row('cron').host, holder.name, 'every row names its host');
    // A standby program is not ready: what comes after it waits on the standby host only.
    await r.until(() => holder.spawner.live('api').length === 1, 'api on the holder');
    assert.equal(standby.row('api').state, 'waiting');
    assert.deepEqual(standby.row('api').waitingFor, ['cron']);
    assert.equal(standby.spawner.live('api').length, 0);
    // Standby holds back nothing else: web (no after) came up on both hosts.
    await advanceBy(r, 3 * TTL);
    assert.equal(r.holder(), holder, 'renewals keep the lease where it is');
    assert.equal(holder.spawner.live('cron').length, 1);
  });

  test('the program carries the fence marker and the fence holds each deadline, moved by every renewal', async () => {
    const r = await rig({ cron });
    await r.until(() => r.holder() !== undefined, 'a holder');
    const holder = r.holder()!;
    const child = holder.spawner.one('cron');
    const [id, hold] = [...holder.fence.holds.entries()][0]!;
    assert.equal(id, 'cron[0]#1');
    assert.equal(child.env['BOSUN_FENCE'], hold.marker, 'the fence finds the tree by its marker');
    assert.equal(hold.pid, child.pid);
    assert.equal(hold.killTimeoutMs, KILL);
    assert.equal(hold.killSignal, 'SIGTERM');
    const sent = holder.fence.leads.length;
    await advanceBy(r, 3 * renewMs + 100);
    // Three renewals, each telling the fence anew: gone by TTL - margin after the renewal began
    // (the TestClock stands still while a renewal runs, so the lead is exactly that).
    const leads = holder.fence.leads.slice(sent);
    assert.equal(leads.length, 3, `one hold a renewal: ${leads.join(', ')}`);
    for (const lead of leads) assert.ok(lead <= TTL - marginMs && lead > TTL - marginMs - 50, `lead ${lead}ms is TTL - margin`);
  });

  for (const breakage of ['hang', 'refused'] as const)
    test(`a holder whose renewals ${breakage === 'hang' ? 'hang' : 'are refused'} stops its program killTimeout + margin before the lease expires; the other host starts it only after`, async () => {
      const r = await rig({ cron });
      await r.until(() => r.holder() !== undefined, 'a holder');
      const holder = r.holder()!;
      const standby = other(holder, r);
      const first = holder.spawner.one('cron');
      // The term signal is recorded, and the fake takes its time to stop (it exits on SIGKILL only).
      const signals: Array<[string, number]> = [];
      first.onSignal = (sig) => {
        signals.push([sig, r.clock.now()]);
        if (sig === 'SIGKILL') first.exit(null, 'SIGKILL');
      };
      await advanceBy(r, renewMs + 10); // one more renewal goes through
      holder.store.broken = breakage;
      const brokeAt = r.clock.now();
      await r.until(() => true, 'nothing');
      // The last renewal happened at most renewMs before the break; the lease is surely ours until then + TTL.
      await advanceBy(r, TTL + renewMs, 20);
      await r.until(() => standby.spawner.live('cron').length === 1, 'the standby host to take over');
      const term = signals.find(([s]) => s === 'SIGTERM');
      const kill = signals.find(([s]) => s === 'SIGKILL');
      assert.ok(term !== undefined && kill !== undefined, `stopped with SIGTERM then SIGKILL: ${JSON.stringify(signals)}`);
      assert.equal(kill[1] - term[1], KILL, 'SIGKILL killTimeout after SIGTERM');
      const second = standby.spawner.one('cron');
      const startedAt = Number(r.events.find((e) => e.includes(` ${standby.name} cron[0] started`))!.split(' ')[0]);
      // The lease expired TTL after the holder's last renewal; the program was gone margin before that.
      assert.ok(
        kill[1] <= startedAt - marginMs,
        `gone (${kill[1]}) at least ${marginMs}ms before the other host started it (${startedAt})`,
      );
      assert.ok(startedAt - brokeAt <= TTL + renewMs + 100, `taken over within TTL + renew (${startedAt - brokeAt}ms)`);
      assert.ok(first.exited && !second.exited);
      assert.equal(holder.row('cron').state, 'standby');
      assert.equal(holder.row('cron').reason, 'lease');
      assert.equal(holder.row('cron').restarts, 0, 'losing the lease is not a crash');
      // Back in reach, it stays standby: the other host holds the lease now.
      holder.store.broken = false;
      await advanceBy(r, 2 * TTL);
      assert.equal(r.holder(), standby);
      assert.equal(holder.row('cron').state, 'standby');
    });

  test('the program that fails on the holder restarts there under its policy; stopped by command, it moves to the other host', async () => {
    const r = await rig({ cron: { ...cron, backoff: { initial: '100ms' } } });
    await r.until(() => r.holder() !== undefined, 'a holder');
    const holder = r.holder()!;
    const standby = other(holder, r);
    holder.spawner.one('cron').exit(1);
    await r.until(() => r.events.some((e) => e.includes(`${holder.name} cron[0] restarting`)), 'a restart');
    await advanceBy(r, 200, 10);
    await r.until(() => r.holder() !== undefined, 'it runs again');
    assert.equal(holder.row('cron').restarts + standby.row('cron').restarts, 1);
    const now = r.holder()!;
    await now.fleet.stop('cron');
    assert.equal(now.row('cron').state, 'stopped');
    await advanceBy(r, renewMs + 100);
    await r.until(() => other(now, r).spawner.live('cron').length === 1, 'the other host to take it');
    assert.equal(now.spawner.live('cron').length, 0);
  });

  test('a program that ends for good on the holder is taken up by the other host', async () => {
    const r = await rig({ cron: { ...cron, restart: 'never' } });
    await r.until(() => r.holder() !== undefined, 'a holder');
    const holder = r.holder()!;
    holder.spawner.one('cron').exit(3);
    await r.until(() => holder.row('cron').state === 'failed', 'failed on the holder');
    await advanceBy(r, renewMs + 100);
    await r.until(() => other(holder, r).spawner.live('cron').length === 1, 'the other host to run it');
  });

  test('shutdown of the holder releases the lease: the other host starts within one renew interval', async () => {
    const r = await rig({ cron });
    await r.until(() => r.holder() !== undefined, 'a holder');
    const holder = r.holder()!;
    const standby = other(holder, r);
    const t0 = r.clock.now();
    holder.fleet.kill();
    await r.until(() => holder.spawner.live('cron').length === 0, 'the holder stopped');
    await holder.fleet.wait();
    assert.deepEqual([...holder.fence.holds.keys()], [], 'the fence holds nothing after a clean stop');
    await advanceBy(r, renewMs + 50);
    await r.until(() => standby.spawner.live('cron').length === 1, 'the other host to take it');
    assert.ok(r.clock.now() - t0 <= renewMs + 100);
  });
});

export type { FakeChild };

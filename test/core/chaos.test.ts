// Property-style test: random crashes, clean exits and operator restarts in a three-level
// tree, thousands of times, on a TestClock with a seeded PRNG. Afterwards every leaf runs
// exactly once, no timer is left pending, and no abort listener is left behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { RestartIntensityError, Supervisor, startWorker, type ChildSpec, type Strategy } from '../../src/core/index.js';
import { TestClock, settle } from '../../src/testing/index.js';

/** mulberry32: a small seeded PRNG, so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class LeafRun {
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #reject!: (e: Error) => void;
  #done = false;
  readonly #onAbort = () => this.end();

  constructor(
    readonly world: World,
    readonly key: string,
    readonly signal: AbortSignal,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const live = world.live.get(key) ?? new Set();
    live.add(this);
    world.live.set(key, live);
    world.maxLive = Math.max(world.maxLive, live.size);
    world.signals.push(signal);
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  end(err?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.signal.removeEventListener('abort', this.#onAbort);
    this.world.live.get(this.key)!.delete(this);
    if (err) this.#reject(err);
    else this.#resolve();
  }
}

class World {
  readonly live = new Map<string, Set<LeafRun>>();
  readonly signals: AbortSignal[] = [];
  readonly mids = new Map<string, Supervisor>();
  maxLive = 0;
  midGiveUps = 0;

  constructor(readonly clock: TestClock) {}

  /** Three kinds of leaf: a Worker, a Worker that says when it has started, a promise of a Worker. */
  leaf(key: string, kind: number): ChildSpec {
    const id = key.split('/')[1]!;
    if (kind === 0) {
      return {
        id,
        start: () => {
          const worker = startWorker((signal) => new LeafRun(this, key, signal).promise);
          const ready = this.clock.sleep(5);
          return { kill: (r?: unknown) => worker.kill(r), wait: () => worker.wait(), started: () => ready };
        },
      };
    }
    if (kind === 1) return { id, start: () => startWorker((signal) => new LeafRun(this, key, signal).promise) };
    return {
      id,
      start: async (signal) => {
        await this.clock.sleep(5, signal);
        return startWorker((s) => new LeafRun(this, key, s).promise);
      },
    };
  }

  running(key: string): LeafRun | undefined {
    const set = this.live.get(key);
    return set === undefined ? undefined : [...set][0];
  }
}

/**
 * Advances the clock in small steps until `p` settles: a restart settles once the child has
 * started, and slow leaves become ready only as time passes. Bounded, so a hang fails.
 */
async function advancingUntil(clock: TestClock, p: Promise<void>): Promise<void> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let step = 0; step < 1000 && !settled; step++) await clock.advance(5);
  assert.ok(settled, 'a restartChild settled');
}

const strategies: Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];
const MIDS = 3;
const LEAVES = 4;

function buildTree(world: World, random: () => number): { root: Supervisor; keys: string[] } {
  const keys: string[] = [];
  const midSpecs: ChildSpec[] = [];
  for (let m = 0; m < MIDS; m++) {
    const midId = `m${m}`;
    const leaves: ChildSpec[] = [];
    for (let l = 0; l < LEAVES; l++) {
      const key = `${midId}/l${l}`;
      keys.push(key);
      leaves.push(world.leaf(key, (m + l) % 3));
    }
    midSpecs.push({
      id: midId,
      start: () => {
        const mid = new Supervisor({
          name: midId,
          clock: world.clock,
          strategy: strategies[m]!,
          intensity: 4,
          periodMs: 1000,
          backoff: { initialMs: 10, maxMs: 200, jitter: 0.2, resetAfterMs: 500 },
          random,
          children: leaves,
        });
        mid.on('gaveUp', () => world.midGiveUps++);
        world.mids.set(midId, mid);
        return mid;
      },
    });
  }
  const root = new Supervisor({
    name: 'root',
    clock: world.clock,
    intensity: Infinity,
    backoff: { initialMs: 50, maxMs: 400, jitter: 0.1, resetAfterMs: 1000 },
    random,
    children: midSpecs,
  });
  return { root, keys };
}

function allRunning(root: Supervisor, world: World): boolean {
  if (!root.children().every((c) => c.state === 'running')) return false;
  for (const mid of world.mids.values()) {
    if (!mid.children().every((c) => c.state === 'running')) return false;
  }
  return true;
}

test('random crashes in a three-level tree leave every leaf running once, no timers and no listeners behind', async () => {
  const seed = Number(process.env.CHAOS_SEED ?? 20261123);
  const target = Number(process.env.CHAOS_CRASHES ?? 3000);
  const random = prng(seed);
  const clock = new TestClock();
  const world = new World(clock);
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);
  const realTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const realTimersBefore = realTimers();
  try {
    const { root, keys } = buildTree(world, random);
    // Children start one after another, each slow one holding back the next (start_link).
    for (let step = 0; step < 100 && !allRunning(root, world); step++) await clock.advance(5);
    assert.ok(allRunning(root, world), 'tree starts');
    const baselineTimers = clock.pending();
    let crashes = 0;
    for (let i = 0; crashes < target; i++) {
      if (i > target * 10) assert.fail(`only ${crashes} crashes in ${i} rounds`);
      const r = random();
      if (r < 0.8) {
        const key = keys[Math.floor(random() * keys.length)]!;
        const run = world.running(key);
        if (run !== undefined) {
          crashes++;
          run.end(random() < 0.1 ? undefined : new Error(`chaos ${i} in ${key}`));
        }
      } else if (r < 0.9) {
        // A burst in one mid supervisor: enough crashes to exceed its intensity.
        const m = Math.floor(random() * MIDS);
        for (let k = 0; k < 5; k++) {
          const run = world.running(`m${m}/l${Math.floor(random() * LEAVES)}`);
          if (run !== undefined) {
            crashes++;
            run.end(new Error(`burst ${i}`));
          }
          await settle(1);
        }
      } else if (r < 0.95) {
        const mid = `m${Math.floor(random() * MIDS)}`;
        await advancingUntil(clock, root.restartChild(mid));
      } else {
        const mid = world.mids.get(`m${Math.floor(random() * MIDS)}`)!;
        const leaf = `l${Math.floor(random() * LEAVES)}`;
        await advancingUntil(clock, mid.restartChild(leaf));
      }
      await clock.advance(Math.floor(random() * 60));
      for (const key of keys) {
        const n = world.live.get(key)?.size ?? 0;
        if (n > 1) assert.fail(`round ${i}: ${key} runs ${n} times at once (seed ${seed})`);
      }
    }
    for (let step = 0; step < 200 && !allRunning(root, world); step++) await clock.advance(100);
    await clock.advance(100);

    assert.ok(world.midGiveUps > 0, 'some mid supervisors gave up, so nesting was exercised');
    assert.ok(allRunning(root, world), `every child is running (seed ${seed})`);
    for (const key of keys) assert.equal(world.live.get(key)?.size, 1, `${key} runs exactly once (seed ${seed})`);
    assert.equal(world.maxLive, 1, 'no leaf ever ran twice at once');
    assert.equal(clock.pending(), baselineTimers, `timers pending: ${clock.pendingDelays().join(', ')}`);
    const liveSignals = new Set([...world.live.values()].flatMap((s) => [...s].map((run) => run.signal)));
    for (const signal of world.signals) {
      const listeners = getEventListeners(signal, 'abort').length;
      assert.equal(listeners, liveSignals.has(signal) ? 1 : 0, 'abort listeners left on a signal');
    }

    root.kill();
    await root.wait();
    for (const key of keys) assert.equal(world.live.get(key)?.size ?? 0, 0, `${key} stopped`);
    assert.equal(clock.pending(), 0);
    for (const signal of world.signals) assert.equal(getEventListeners(signal, 'abort').length, 0);
    await settle();
    assert.equal(unhandled, 0, 'no unhandled rejections');
    assert.equal(realTimers(), realTimersBefore, 'no real timers left behind');
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('a mid supervisor that keeps giving up is restarted by the root with growing backoff', async () => {
  const clock = new TestClock();
  const world = new World(clock);
  const root = new Supervisor({
    name: 'root',
    clock,
    intensity: 10,
    periodMs: 60_000,
    backoff: { initialMs: 100, factor: 2, maxMs: 10_000, jitter: 0 },
    children: [
      {
        id: 'mid',
        start: () => new Supervisor({ name: 'mid', clock, intensity: 0, children: [world.leaf('mid/leaf', 1)] }),
      },
    ],
  });
  const delays: number[] = [];
  root.on('childRestarting', (e) => {
    assert.ok(e.error instanceof RestartIntensityError);
    delays.push(e.delayMs);
  });
  await settle();
  for (let i = 0; i < 3; i++) {
    world.running('mid/leaf')!.end(new Error('leaf died'));
    await clock.advance(10_000);
  }
  assert.deepEqual(delays, [100, 200, 400]);
  assert.equal(world.live.get('mid/leaf')?.size, 1);
  root.kill();
  await root.wait();
  assert.equal(clock.pending(), 0);
});

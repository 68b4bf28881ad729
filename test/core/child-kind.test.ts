import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Runner, Supervisor, type SupervisorEvents, type Worker } from '../../src/core/index.js';
import { TestClock, settle } from '../../src/testing/index.js';
import { Probe } from './fixtures/probe.js';

/** A Worker that never stops by itself and ignores kill(), until `finish()` is called. */
function deafWorker(kind?: 'worker' | 'tree'): Worker & { finish(): void } {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return { ...(kind === undefined ? {} : { kind }), kill() {}, wait: () => done, finish: () => finish() };
}

function abandonments(sup: Supervisor): SupervisorEvents['childAbandoned'][] {
  const seen: SupervisorEvents['childAbandoned'][] = [];
  sup.on('childAbandoned', (e) => seen.push(e));
  return seen;
}

/** Terminates `id` and reports whether it has settled after each of `steps` advances of the clock. */
async function terminateOver(clock: TestClock, sup: Supervisor, id: string, steps: number[]): Promise<boolean[]> {
  let done = false;
  void sup.terminateChild(id).then(() => (done = true));
  const seen: boolean[] = [];
  for (const ms of steps) {
    await clock.advance(ms);
    seen.push(done);
  }
  return seen;
}

describe('child kind', () => {
  test('Supervisor and Runner say they are trees', () => {
    const clock = new TestClock();
    const sup = new Supervisor({ clock });
    const runner = new Runner({ clock });
    assert.equal(sup.kind, 'tree');
    assert.equal(runner.kind, 'tree');
    sup.kill();
    runner.kill();
  });

  test("spec kind 'tree' on a plain worker waits for it without limit", async () => {
    const clock = new TestClock();
    const sup = new Supervisor({ clock });
    const abandoned = abandonments(sup);
    const w = deafWorker();
    await sup.startChild({ id: 'w', kind: 'tree', start: () => w });
    const terminated = terminateOver(clock, sup, 'w', [5000, 3_600_000]);
    const seen = await terminated;
    assert.deepEqual(seen, [false, false], 'still waiting after an hour');
    assert.equal(clock.pending(), 0, 'no abandon timer is armed');
    w.finish();
    await settle();
    assert.deepEqual(
      sup.children().map((c) => c.state),
      ['stopped'],
    );
    assert.deepEqual(abandoned, []);
    sup.kill();
    await sup.wait();
  });

  test("a Worker whose own kind is 'tree' is waited for without limit; one without a kind gets 5000 ms", async () => {
    const clock = new TestClock();
    const sup = new Supervisor({ clock });
    const abandoned = abandonments(sup);
    const tree = deafWorker('tree');
    const plain = deafWorker();
    await sup.startChild({ id: 'tree', start: () => tree });
    await sup.startChild({ id: 'plain', start: () => plain });
    assert.deepEqual(await terminateOver(clock, sup, 'plain', [4999, 1]), [false, true]);
    assert.deepEqual(
      abandoned.map((e) => [e.id, e.shutdownMs]),
      [['plain', 5000]],
    );
    assert.deepEqual(await terminateOver(clock, sup, 'tree', [60_000]), [false]);
    tree.finish();
    await settle();
    assert.equal(abandoned.length, 1);
    sup.kill();
    await sup.wait();
  });

  test('an explicit shutdownMs wins over a tree kind, from the spec or from the Worker', async () => {
    const clock = new TestClock();
    const probe = new Probe();
    const sup = new Supervisor({ clock });
    const abandoned = abandonments(sup);
    const inner = new Supervisor({ clock, name: 'inner', children: [probe.spec('slow', { ignoreKill: true, shutdownMs: 8000 })] });
    await sup.startChild({ id: 'inner', shutdownMs: 1000, start: () => inner });
    await sup.startChild({ id: 'w', kind: 'tree', shutdownMs: 2000, start: () => deafWorker() });
    assert.deepEqual(await terminateOver(clock, sup, 'inner', [999, 1]), [false, true]);
    assert.deepEqual(await terminateOver(clock, sup, 'w', [1999, 1]), [false, true]);
    assert.deepEqual(
      abandoned.map((e) => [e.id, e.shutdownMs]),
      [
        ['inner', 1000],
        ['w', 2000],
      ],
    );
    sup.kill();
    await clock.waitAdvance(8000, 1); // the inner supervisor, abandoned, still stops its own child
    await sup.wait();
  });

  test("spec kind 'worker' makes a Supervisor child a worker: 5000 ms by default", async () => {
    const clock = new TestClock();
    const probe = new Probe();
    const sup = new Supervisor({ clock });
    const abandoned = abandonments(sup);
    const inner = new Supervisor({ clock, name: 'inner', children: [probe.spec('slow', { ignoreKill: true, shutdownMs: 8000 })] });
    await sup.startChild({ id: 'inner', kind: 'worker', start: () => inner });
    assert.deepEqual(await terminateOver(clock, sup, 'inner', [4999, 1]), [false, true]);
    assert.deepEqual(
      abandoned.map((e) => [e.id, e.shutdownMs]),
      [['inner', 5000]],
    );
    await clock.advance(3000);
    await inner.wait();
    sup.kill();
    await sup.wait();
  });

  test('a bad kind is refused with an error that names the child', () => {
    assert.throws(
      () => new Supervisor({ children: [{ id: 'x', kind: 'supervisor' as 'tree', start: () => deafWorker() }] }),
      /child x: kind must be 'worker' or 'tree', got supervisor/,
    );
  });
});

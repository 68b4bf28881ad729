import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AlreadyExistsError,
  DeadError,
  NotFoundError,
  RestartIntensityError,
  Supervisor,
  noopWorker,
  startWorker,
  stopWorker,
  type ChildSpec,
  type Logger,
  type SupervisorEvents,
  type SupervisorOptions,
  type Worker,
} from '../../src/core/index.js';
import { TestClock, settle } from '../../src/testing/index.js';
import { Probe } from './fixtures/probe.js';

const noBackoff = { initialMs: 0, jitter: 0 };

/** A supervisor on a TestClock with no backoff and generous intensity unless told otherwise. */
function setup(options: SupervisorOptions & { ids?: string[] } = {}) {
  const clock = new TestClock();
  const probe = new Probe();
  const { ids = [], ...rest } = options;
  const sup = new Supervisor({
    clock,
    intensity: 100,
    backoff: noBackoff,
    children: ids.map((id) => probe.spec(id)),
    ...rest,
  });
  return { clock, probe, sup };
}

function record<K extends keyof SupervisorEvents>(sup: Supervisor, name: K): SupervisorEvents[K][] {
  const seen: SupervisorEvents[K][] = [];
  sup.on(name, (e) => seen.push(e));
  return seen;
}

async function stop(sup: Supervisor): Promise<void> {
  sup.kill();
  await sup.wait();
}

describe('Supervisor strategies', () => {
  test('one_for_one restarts only the crashed child', async () => {
    const { probe, sup } = setup({ ids: ['a', 'b', 'c'] });
    await settle();
    assert.deepEqual(probe.take(), ['start:a', 'start:b', 'start:c']);
    const a = probe.run('a');
    const c = probe.run('c');
    probe.crash('b');
    await settle();
    assert.deepEqual(probe.take(), ['crash:b', 'start:b']);
    assert.equal(probe.run('a'), a);
    assert.equal(probe.run('c'), c);
    assert.deepEqual(
      sup.children().map((ch) => [ch.id, ch.state, ch.restarts]),
      [
        ['a', 'running', 0],
        ['b', 'running', 1],
        ['c', 'running', 0],
      ],
    );
    await stop(sup);
  });

  test('one_for_all stops the others in reverse start order, then starts all in order', async () => {
    const { probe, sup } = setup({ strategy: 'one_for_all', ids: ['a', 'b', 'c', 'd'] });
    await settle();
    probe.take();
    probe.crash('b');
    await settle();
    assert.deepEqual(probe.take(), [
      'crash:b',
      'kill:d',
      'stop:d',
      'kill:c',
      'stop:c',
      'kill:a',
      'stop:a',
      'start:a',
      'start:b',
      'start:c',
      'start:d',
    ]);
    assert.ok(sup.children().every((ch) => ch.state === 'running' && ch.restarts === 1));
    await stop(sup);
  });

  test('rest_for_one restarts the crashed child and those started after it; earlier ones are untouched', async () => {
    const { probe, sup } = setup({ strategy: 'rest_for_one', ids: ['a', 'b', 'c', 'd'] });
    await settle();
    probe.take();
    const a = probe.run('a');
    probe.crash('b');
    await settle();
    assert.deepEqual(probe.take(), ['crash:b', 'kill:d', 'stop:d', 'kill:c', 'stop:c', 'start:b', 'start:c', 'start:d']);
    assert.equal(probe.run('a'), a);
    assert.deepEqual(
      sup.children().map((ch) => ch.restarts),
      [0, 1, 1, 1],
    );
    await stop(sup);
  });

  test('an exit that arrives while a restart is stopping siblings is handled after that restart', async () => {
    const { clock, probe, sup } = setup({ strategy: 'rest_for_one', children: [] });
    await sup.startChild(probe.spec('a'));
    await sup.startChild(probe.spec('b'));
    await sup.startChild(probe.spec('c', { ignoreKill: true, shutdownMs: 500 }));
    probe.take();
    probe.crash('b');
    await settle();
    assert.deepEqual(probe.take(), ['crash:b', 'kill:c'], 'waiting up to 500 ms for c');
    probe.crash('a');
    await settle();
    assert.deepEqual(probe.take(), ['crash:a'], 'a waits for the running restart');
    await clock.advance(500); // c abandoned; b and c restart; then a's exit stops c (slowly) and b
    assert.deepEqual(probe.take(), ['start:b', 'start:c', 'kill:c']);
    await clock.advance(500);
    assert.deepEqual(probe.take(), ['kill:b', 'stop:b', 'start:a', 'start:b', 'start:c']);
    assert.deepEqual(
      sup.children().map((ch) => [ch.id, ch.state, ch.restarts]),
      [
        ['a', 'running', 1],
        ['b', 'running', 2],
        ['c', 'running', 2],
      ],
    );
    assert.equal(clock.pending(), 0);
    const stopping = stop(sup);
    await clock.waitAdvance(500, 1);
    await stopping;
  });

  test('one_for_all drops temporary siblings, as OTP does', async () => {
    const clock = new TestClock();
    const probe = new Probe();
    const sup = new Supervisor({
      clock,
      strategy: 'one_for_all',
      intensity: 10,
      backoff: noBackoff,
      children: [probe.spec('a'), probe.spec('tmp', { restart: 'temporary' }), probe.spec('c')],
    });
    await settle();
    probe.crash('a');
    await settle();
    assert.deepEqual(
      sup.children().map((ch) => ch.id),
      ['a', 'c'],
    );
    assert.equal(probe.starts('tmp'), 1);
    assert.equal(probe.starts('c'), 2);
    await stop(sup);
  });

  test("the group restart waits for the crashed child's backoff, with every member marked restarting", async () => {
    const { clock, probe, sup } = setup({
      strategy: 'one_for_all',
      ids: ['a', 'b'],
      backoff: { initialMs: 500, jitter: 0 },
    });
    await settle();
    probe.crash('a');
    await settle();
    assert.deepEqual(
      sup.children().map((ch) => ch.state),
      ['restarting', 'restarting'],
    );
    await clock.advance(499);
    assert.equal(probe.starts('a'), 1);
    await clock.advance(1);
    assert.equal(probe.starts('a'), 2);
    assert.equal(probe.starts('b'), 2);
    await stop(sup);
  });
});

describe('Supervisor restart types', () => {
  test('a permanent child is restarted after an error and after a clean stop', async () => {
    const { probe, sup } = setup({ ids: ['p'] });
    await settle();
    probe.crash('p');
    await settle();
    probe.exit('p');
    await settle();
    assert.equal(probe.starts('p'), 3);
    await stop(sup);
  });

  test('a transient child is restarted only after an error; a clean stop removes it', async () => {
    const { probe, sup } = setup({ children: [] });
    const removed = record(sup, 'childRemoved');
    await sup.startChild(probe.spec('t', { restart: 'transient' }));
    probe.crash('t');
    await settle();
    assert.equal(probe.starts('t'), 2);
    probe.exit('t');
    await settle();
    assert.equal(probe.starts('t'), 2);
    assert.deepEqual(sup.children(), []);
    assert.deepEqual(removed, [{ supervisor: 'supervisor', id: 't' }]);
    await stop(sup);
  });

  test('a temporary child is never restarted and is removed however it stops', async () => {
    const { probe, sup } = setup();
    await sup.startChild(probe.spec('x', { restart: 'temporary' }));
    await sup.startChild(probe.spec('y', { restart: 'temporary' }));
    probe.crash('x');
    probe.exit('y');
    await settle();
    assert.equal(probe.starts('x'), 1);
    assert.equal(probe.starts('y'), 1);
    assert.deepEqual(sup.children(), []);
    await stop(sup);
  });
});

describe('Supervisor restart intensity', () => {
  test("defaults are OTP's: 1 restart in 5 s, so the second crash within 5 s gives up", async () => {
    const clock = new TestClock();
    const probe = new Probe();
    const sup = new Supervisor({ clock, backoff: noBackoff, children: [probe.spec('a')] });
    await settle();
    probe.crash('a');
    await settle();
    assert.equal(probe.starts('a'), 2);
    await clock.advance(4999);
    const last = probe.crash('a');
    await assert.rejects(sup.wait(), (err: unknown) => err instanceof RestartIntensityError && err.cause === last);
  });

  test('with intensity 3 in 5 s the fourth crash in the window stops all children and rejects with RestartIntensityError', async () => {
    const { clock, probe, sup } = setup({ intensity: 3, periodMs: 5000, ids: ['a', 'b'] });
    const gaveUp = record(sup, 'gaveUp');
    await settle();
    for (let i = 0; i < 3; i++) {
      probe.crash('a');
      await clock.advance(1000);
    }
    assert.equal(probe.starts('a'), 4);
    probe.take();
    const last = probe.crash('a', new Error('fourth'));
    await assert.rejects(sup.wait(), (err: unknown) => {
      assert.ok(err instanceof RestartIntensityError);
      assert.equal(err.code, 'ERR_RESTART_INTENSITY');
      assert.equal(err.cause, last);
      return true;
    });
    assert.deepEqual(probe.take(), ['crash:a', 'kill:b', 'stop:b']);
    assert.equal(gaveUp.length, 1);
    assert.ok(sup.children().every((ch) => ch.state === 'stopped'));
  });

  test('restarts spread beyond the window are allowed forever', async () => {
    const { clock, probe, sup } = setup({ intensity: 1, periodMs: 5000, ids: ['a'] });
    await settle();
    for (let i = 0; i < 50; i++) {
      probe.crash('a');
      await clock.advance(5001);
    }
    assert.equal(probe.starts('a'), 51);
    await stop(sup);
  });

  test('intensity 0 gives up on the first crash', async () => {
    const { probe, sup } = setup({ intensity: 0, ids: ['a'] });
    await settle();
    probe.crash('a');
    await assert.rejects(sup.wait(), RestartIntensityError);
    assert.equal(probe.starts('a'), 1);
  });
});

describe('Supervisor backoff', () => {
  test('initial 1 s, factor 2, max 3 s restarts at 1 s, 2 s, 3 s, 3 s; a run past resetAfterMs starts again from 1 s', async () => {
    const { clock, probe, sup } = setup({
      ids: ['a'],
      backoff: { initialMs: 1000, factor: 2, maxMs: 3000, jitter: 0, resetAfterMs: 10_000 },
    });
    const restarting = record(sup, 'childRestarting');
    await settle();
    const gaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      probe.crash('a');
      const crashedAt = clock.now();
      const before = probe.starts('a');
      while (probe.starts('a') === before) await clock.waitAdvance(clock.pendingDelays()[0] ?? 0, 1);
      gaps.push(clock.now() - crashedAt);
    }
    assert.deepEqual(gaps, [1000, 2000, 3000, 3000]);
    assert.deepEqual(
      restarting.map((e) => e.delayMs),
      [1000, 2000, 3000, 3000],
    );
    await clock.advance(10_000);
    probe.crash('a');
    await settle();
    assert.deepEqual(clock.pendingDelays(), [1000]);
    await clock.advance(1000);
    assert.equal(probe.starts('a'), 6);
    await stop(sup);
    assert.equal(clock.pending(), 0);
  });

  test('a child whose restarts fail to start keeps backing off, even after a long stable run', async () => {
    const clock = new TestClock();
    let calls = 0;
    let fail!: (e: Error) => void;
    const sup = new Supervisor({
      clock,
      intensity: 10,
      backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0, resetAfterMs: 10_000 },
      children: [
        {
          id: 'a',
          start: () => {
            calls++;
            if (calls > 1 && calls < 4) throw new Error(`start ${calls} failed`);
            return startWorker(
              (signal) =>
                new Promise<void>((resolve, reject) => {
                  fail = reject;
                  signal.addEventListener('abort', () => resolve(), { once: true });
                }),
            );
          },
        },
      ],
    });
    const restarting = record(sup, 'childRestarting');
    await clock.advance(60_000);
    fail(new Error('after a long run'));
    await clock.advance(1000 + 2000 + 4000);
    assert.deepEqual(
      restarting.map((e) => e.delayMs),
      [1000, 2000, 4000],
    );
    assert.equal(calls, 4);
    await stop(sup);
  });

  test('the default backoff waits 100 ms ±10% before the first restart', async () => {
    const clock = new TestClock();
    const probe = new Probe();
    const sup = new Supervisor({ clock, children: [probe.spec('a')] });
    const restarting = record(sup, 'childRestarting');
    await settle();
    probe.crash('a');
    await settle();
    const delay = restarting[0]!.delayMs;
    assert.ok(delay >= 90 && delay <= 110, `delay ${delay}`);
    await clock.advance(delay - 1);
    assert.equal(probe.starts('a'), 1);
    await clock.advance(1);
    assert.equal(probe.starts('a'), 2);
    await stop(sup);
  });

  test('jitter spreads the delay with the given random source', async () => {
    const { probe, sup } = setup({ ids: ['a'], backoff: { initialMs: 1000, jitter: 0.1 }, random: () => 0 });
    const restarting = record(sup, 'childRestarting');
    await settle();
    probe.crash('a');
    await settle();
    assert.equal(restarting[0]!.delayMs, 900);
    await stop(sup);
  });
});

describe('Supervisor shutdown', () => {
  test('children stop in reverse start order and kill() is idempotent', async () => {
    const { probe, sup } = setup({ ids: ['a', 'b', 'c'] });
    await settle();
    probe.take();
    sup.kill();
    sup.kill();
    await sup.wait();
    assert.deepEqual(probe.take(), ['kill:c', 'stop:c', 'kill:b', 'stop:b', 'kill:a', 'stop:a']);
  });

  test('a child that ignores kill is abandoned after its shutdownMs, with a logged error, and the supervisor still stops', async () => {
    const errors: object[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (o) => errors.push(o) };
    const clock = new TestClock();
    const probe = new Probe();
    const sup = new Supervisor({
      clock,
      logger,
      children: [probe.spec('a'), probe.spec('stuck', { ignoreKill: true, shutdownMs: 1000 })],
    });
    const abandoned = record(sup, 'childAbandoned');
    await settle();
    let stopped = false;
    sup.kill();
    void sup.wait().then(() => (stopped = true));
    await clock.advance(999);
    assert.equal(stopped, false);
    assert.equal(probe.current.has('a'), true, 'a stops only after stuck, in reverse order');
    await clock.advance(1);
    await sup.wait();
    assert.deepEqual(abandoned, [{ supervisor: 'supervisor', id: 'stuck', shutdownMs: 1000 }]);
    assert.ok(errors.some((e) => (e as { child?: string }).child === 'stuck'));
    assert.equal(probe.current.has('a'), false);
    assert.equal(clock.pending(), 0);
  });

  test('a child whose kill() throws is logged and still waited for as its shutdownMs says', async () => {
    const errors: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (_o, msg) => void errors.push(msg ?? '') };
    const clock = new TestClock();
    const sup = new Supervisor({
      clock,
      logger,
      children: [
        {
          id: 'rude',
          shutdownMs: 100,
          start: () => ({
            kill() {
              throw new Error('kill is broken');
            },
            wait: () => new Promise<void>(() => {}),
          }),
        },
      ],
    });
    await settle();
    sup.kill();
    await clock.waitAdvance(100, 1);
    await sup.wait();
    assert.deepEqual(errors, ['child kill() threw', 'child did not stop within 100 ms; abandoned']);
  });

  test('a worker child gets 5000 ms by default', async () => {
    const { clock, probe, sup } = setup({ children: [] });
    await sup.startChild(probe.spec('stuck', { ignoreKill: true }));
    sup.kill();
    await settle();
    assert.deepEqual(clock.pendingDelays(), [5000]);
    await clock.advance(5000);
    await sup.wait();
  });

  test('brutal kills without waiting', async () => {
    const { clock, probe, sup } = setup({ children: [] });
    await sup.startChild(probe.spec('stuck', { ignoreKill: true, shutdownMs: 'brutal' }));
    sup.kill();
    await sup.wait();
    assert.equal(clock.pending(), 0);
    assert.equal(probe.run('stuck').signal.aborted, true);
  });

  test('a child supervisor is waited for without limit by default', async () => {
    const clock = new TestClock();
    const probe = new Probe();
    const inner = () => new Supervisor({ clock, name: 'inner', children: [probe.spec('slow', { ignoreKill: true, shutdownMs: 20_000 })] });
    const outer = new Supervisor({ clock, name: 'outer', children: [{ id: 'inner', start: inner }] });
    await settle();
    let stopped = false;
    outer.kill();
    void outer.wait().then(() => (stopped = true));
    await clock.advance(19_999);
    assert.equal(stopped, false, 'outer still waits for inner after 5 s');
    await clock.advance(1);
    await outer.wait();
  });

  test('an abandoned child that exits later changes nothing', async () => {
    const { clock, probe, sup } = setup({ children: [] });
    await sup.startChild(probe.spec('stuck', { ignoreKill: true, shutdownMs: 10 }));
    const run = probe.run('stuck');
    const terminated = sup.terminateChild('stuck');
    await clock.waitAdvance(10, 1); // terminate waits for the abandon timer
    await terminated;
    run.finish(new Error('late'));
    await settle();
    assert.deepEqual(
      sup.children().map((ch) => [ch.id, ch.state]),
      [['stuck', 'stopped']],
    );
    assert.equal(probe.starts('stuck'), 1);
    await stop(sup);
  });
});

describe('Supervisor trees', () => {
  test('a child supervisor that gives up counts as one crash in its parent', async () => {
    const clock = new TestClock();
    const probe = new Probe();
    let innerStarts = 0;
    const outer = new Supervisor({
      clock,
      name: 'outer',
      intensity: 1,
      backoff: noBackoff,
      children: [
        {
          id: 'inner',
          start: () => {
            innerStarts++;
            return new Supervisor({ clock, name: 'inner', intensity: 0, children: [probe.spec('leaf')] });
          },
        },
      ],
    });
    const exits = record(outer, 'childExited');
    await settle();
    probe.crash('leaf');
    await settle();
    assert.equal(innerStarts, 2);
    assert.ok(exits[0]!.error instanceof RestartIntensityError);
    assert.equal(probe.starts('leaf'), 2);
    // A second give-up within the window exceeds the outer's intensity of 1.
    probe.crash('leaf');
    await assert.rejects(outer.wait(), (err: unknown) => {
      assert.ok(err instanceof RestartIntensityError);
      assert.ok(err.cause instanceof RestartIntensityError, "cause is the inner supervisor's give-up");
      return true;
    });
  });

  test('a transient child supervisor that gave up is not restarted: children() and childExited show why, its siblings run on', async () => {
    const { clock, probe, sup } = setup({ ids: ['sibling'] });
    const leafError = new Error('leaf down');
    await sup.startChild({
      id: 'instance',
      restart: 'transient',
      start: () => new Supervisor({ clock, name: 'instance', intensity: 0, children: [probe.spec('leaf')] }),
    });
    const exited = record(sup, 'childExited');
    const restarting = record(sup, 'childRestarting');
    const removed = record(sup, 'childRemoved');
    const failed = record(sup, 'childFailed');
    probe.take();
    probe.crash('leaf', leafError);
    await clock.advance(1000);
    assert.equal(exited.length, 1);
    assert.ok(exited[0]!.error instanceof RestartIntensityError, 'childExited carries the give-up');
    assert.equal(exited[0]!.error.cause, leafError);
    assert.deepEqual(restarting, [], 'a gave-up transient child is not restarted (OTP: exit reason shutdown)');
    assert.deepEqual(removed, [], 'it is kept, failed, so that it can be started again');
    assert.deepEqual(failed, [{ supervisor: 'supervisor', id: 'instance', error: exited[0]!.error }]);
    const info = sup.children().find((c) => c.id === 'instance')!;
    assert.equal(info.state, 'failed');
    assert.ok(info.lastError instanceof RestartIntensityError);
    assert.deepEqual(probe.take(), ['crash:leaf']);
    assert.equal(probe.current.has('sibling'), true);
    await sup.restartChild('instance');
    assert.deepEqual(probe.take(), ['start:leaf']);
    await stop(sup);
  });

  test('a significant transient child supervisor that gave up triggers auto shutdown', async () => {
    const { clock, probe, sup } = setup({ ids: ['sibling'], autoShutdown: 'any_significant' });
    await sup.startChild({
      id: 'inner',
      restart: 'transient',
      significant: true,
      start: () => new Supervisor({ clock, name: 'inner', intensity: 0, children: [probe.spec('leaf')] }),
    });
    probe.take();
    probe.crash('leaf');
    await sup.wait();
    assert.deepEqual(probe.take(), ['crash:leaf', 'kill:sibling', 'stop:sibling']);
  });

  test('startChild of a supervisor that cannot start its own children rejects with that error and changes nothing', async () => {
    const { clock, probe, sup } = setup({ ids: ['healthy'] });
    const cannot = new Error('no database');
    const events = record(sup, 'childExited');
    await assert.rejects(
      sup.startChild({
        id: 'inner',
        start: () =>
          new Supervisor({
            clock,
            name: 'inner',
            children: [
              probe.spec('leaf'),
              {
                id: 'db',
                start: () => {
                  throw cannot;
                },
              },
            ],
          }),
      }),
      (err) => err === cannot,
    );
    assert.deepEqual(
      sup.children().map((c) => [c.id, c.state]),
      [['healthy', 'running']],
    );
    assert.deepEqual(events, []);
    assert.deepEqual(probe.take(), ['start:healthy', 'start:leaf', 'kill:leaf', 'stop:leaf']);
    await clock.advance(60_000);
    assert.equal(probe.current.has('healthy'), true, 'the parent did not restart or give up');
    await stop(sup);
  });

  test('a fatal error stops everything and the supervisor dies with that error', async () => {
    const fatal = new Error('disk gone');
    const { probe, sup } = setup({ ids: ['a', 'b'], isFatal: (err) => err === fatal });
    await settle();
    probe.take();
    probe.crash('a', fatal);
    await assert.rejects(sup.wait(), (err: unknown) => err === fatal);
    assert.deepEqual(probe.take(), ['crash:a', 'kill:b', 'stop:b']);
  });
});

describe('Supervisor start-up', () => {
  test('children start in order and an exit during start-up is handled after the start sequence', async () => {
    const events: string[] = [];
    const crashing = (id: string): ChildSpec => ({
      id,
      start: () => {
        events.push(`start:${id}`);
        return startWorker(() => {
          throw new Error(`${id} fails at once`);
        });
      },
    });
    const plain = (id: string): ChildSpec => ({
      id,
      start: () => {
        events.push(`start:${id}`);
        return startWorker((signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })));
      },
    });
    const sup = new Supervisor({
      clock: new TestClock(),
      intensity: 1,
      backoff: noBackoff,
      children: [crashing('a'), plain('b'), plain('c')],
    });
    await settle();
    assert.deepEqual(events.slice(0, 4), ['start:a', 'start:b', 'start:c', 'start:a']);
    sup.kill();
    await assert.rejects(sup.wait(), RestartIntensityError);
  });

  test('a start that throws during start-up stops the started children in reverse and the supervisor dies with it', async () => {
    const probe = new Probe();
    const boom = new Error('cannot open port');
    const sup = new Supervisor({
      clock: new TestClock(),
      children: [
        probe.spec('a'),
        probe.spec('b'),
        {
          id: 'bad',
          start: () => {
            throw boom;
          },
        },
        probe.spec('never'),
      ],
    });
    await assert.rejects(sup.wait(), (err: unknown) => err === boom);
    assert.deepEqual(probe.take(), ['start:a', 'start:b', 'kill:b', 'stop:b', 'kill:a', 'stop:a']);
  });

  test('listeners attached right after construction see the first starts', async () => {
    const { sup } = setup({ ids: ['a', 'b'] });
    const started = record(sup, 'childStarted');
    await settle();
    assert.deepEqual(
      started.map((e) => e.id),
      ['a', 'b'],
    );
    await stop(sup);
  });

  test('a restart whose start throws counts as a crash and is retried', async () => {
    const clock = new TestClock();
    let calls = 0;
    const sup = new Supervisor({
      clock,
      intensity: 5,
      backoff: noBackoff,
      children: [
        {
          id: 'flaky',
          start: () => {
            calls++;
            if (calls === 2 || calls === 3) throw new Error(`start ${calls} failed`);
            return startWorker(async () => {
              if (calls === 1) throw new Error('first run fails');
              await new Promise(() => {});
            });
          },
        },
      ],
    });
    await settle();
    assert.equal(calls, 4);
    const [child] = sup.children();
    assert.equal(child!.state, 'running');
    assert.equal(child!.restarts, 3);
    assert.equal(child!.lastError?.message, 'start 3 failed');
    sup.kill();
    // The last run never honours its signal; the default 5 s shutdown abandons it.
    await clock.waitAdvance(5000, 1);
    await sup.wait();
  });
});

describe('Supervisor children as promises', () => {
  test('a promise of a Worker makes that Worker the child; a kill before it arrives kills it on arrival', async () => {
    const clock = new TestClock();
    let resolveWorker!: (w: Worker) => void;
    let childSignal!: AbortSignal;
    const sup = new Supervisor({
      clock,
      children: [
        {
          id: 'late',
          start: (signal) => {
            childSignal = signal;
            return new Promise<Worker>((r) => (resolveWorker = r));
          },
        },
      ],
    });
    await settle();
    assert.equal(sup.children()[0]!.state, 'starting', 'starting until the Worker arrives');
    sup.kill();
    await settle();
    assert.equal(childSignal.aborted, true);
    let killed = false;
    const w = startWorker(
      (signal) => new Promise<void>((r) => signal.addEventListener('abort', () => ((killed = true), r()), { once: true })),
    );
    resolveWorker(w);
    await sup.wait();
    assert.equal(killed, true);
  });

  test('a promise of nothing is a call that is the work: the child is starting until it ends, and its end is a clean exit', async () => {
    const { sup, clock } = setup({ children: [] });
    const exits = record(sup, 'childExited');
    let calls = 0;
    let finish!: () => void;
    const added = sup.startChild({
      id: 'job',
      restart: 'transient',
      start: () => {
        calls++;
        return new Promise<void>((resolve) => (finish = resolve));
      },
    });
    await settle();
    assert.deepEqual(
      sup.children().map((c) => c.state),
      ['starting'],
    );
    finish();
    await added;
    await settle();
    assert.equal(calls, 1, 'a transient call that ended is not called again');
    assert.deepEqual(exits, [{ supervisor: 'supervisor', id: 'job', error: undefined, killed: false }]);
    assert.deepEqual(sup.children(), []);
    await stop(sup);
    assert.equal(clock.pending(), 0);
  });

  test('an abort surfaced by a pending start after a kill is a clean exit, and the startChild rejects with DeadError', async () => {
    const { sup } = setup({ children: [] });
    const exits = record(sup, 'childExited');
    const added = sup.startChild({
      id: 'w',
      start: (signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    });
    await settle();
    await stop(sup);
    await assert.rejects(added, DeadError);
    assert.deepEqual(exits, [{ supervisor: 'supervisor', id: 'w', error: undefined, killed: true }]);
  });
});

describe('Supervisor signals', () => {
  test("a run's signal is aborted when the supervisor stops it, and a stopped run's signal is never handed on", async () => {
    const { sup } = setup({ children: [] });
    const signals: AbortSignal[] = [];
    await sup.startChild({
      id: 'a',
      start: (signal) => {
        signals.push(signal);
        return noopWorker();
      },
    });
    await sup.restartChild('a');
    assert.equal(signals.length, 2);
    assert.equal(signals[0]!.aborted, true);
    assert.notEqual(signals[1], signals[0]);
    await stop(sup);
    assert.equal(signals[1]!.aborted, true);
  });

  test("every run gets its own signal, and a crashed run's signal that work still listens on is aborted", async () => {
    const { sup } = setup({ children: [] });
    const signals: AbortSignal[] = [];
    let crash!: (e: Error) => void;
    await sup.startChild({
      id: 'a',
      start: (signal) => {
        signals.push(signal);
        return startWorker(
          () =>
            new Promise<void>((resolve, reject) => {
              // A leftover: the run's worker ends, but this listener stays on the run's signal.
              signal.addEventListener('abort', () => resolve(), { once: true });
              crash = reject;
            }),
        );
      },
    });
    crash(new Error('first crash'));
    await settle();
    assert.equal(signals.length, 2);
    assert.notEqual(signals[1], signals[0]);
    assert.equal(signals[0]!.aborted, true, "the crashed run's signal is aborted");
    assert.equal(signals[1]!.aborted, false);
    crash(new Error('second crash'));
    await settle();
    assert.equal(signals.length, 3);
    assert.equal(new Set(signals).size, 3);
    await stop(sup);
    assert.ok(signals.every((s) => s.aborted));
  });
});

describe('Supervisor child management', () => {
  test('startChild adds a child at the end; a used id is AlreadyExistsError; a throwing start rejects and adds nothing', async () => {
    const { probe, sup } = setup({ ids: ['a'] });
    await sup.startChild(probe.spec('b'));
    await assert.rejects(sup.startChild(probe.spec('a')), AlreadyExistsError);
    const boom = new Error('nope');
    await assert.rejects(
      sup.startChild({
        id: 'bad',
        start: () => {
          throw boom;
        },
      }),
      (err: unknown) => err === boom,
    );
    assert.deepEqual(
      sup.children().map((ch) => ch.id),
      ['a', 'b'],
    );
    await stop(sup);
    await assert.rejects(sup.startChild(probe.spec('c')), DeadError);
  });

  test('terminateChild stops and keeps the spec, restartChild starts it again, deleteChild removes it', async () => {
    const { probe, sup } = setup({ ids: ['a', 'b'] });
    await settle();
    await sup.terminateChild('a');
    assert.deepEqual(
      sup.children().map((ch) => [ch.id, ch.state]),
      [
        ['a', 'stopped'],
        ['b', 'running'],
      ],
    );
    await sup.restartChild('a');
    assert.equal(probe.starts('a'), 2);
    assert.equal(sup.children()[0]!.state, 'running');
    assert.equal(sup.children()[0]!.restarts, 0, 'a restart by command is not counted');
    await sup.restartChild('b');
    assert.deepEqual(probe.take().slice(-3), ['kill:b', 'stop:b', 'start:b']);
    await sup.deleteChild('a');
    assert.deepEqual(
      sup.children().map((ch) => ch.id),
      ['b'],
    );
    assert.equal(probe.current.has('a'), false);
    await assert.rejects(sup.terminateChild('zzz'), NotFoundError);
    await assert.rejects(sup.restartChild('zzz'), NotFoundError);
    await assert.rejects(sup.deleteChild('zzz'), NotFoundError);
    await stop(sup);
  });

  test('terminating a temporary child removes it; terminating a child waiting to restart cancels the restart', async () => {
    const { clock, probe, sup } = setup({ children: [], backoff: { initialMs: 1000, jitter: 0 } });
    await sup.startChild(probe.spec('tmp', { restart: 'temporary' }));
    await sup.startChild(probe.spec('p'));
    await sup.terminateChild('tmp');
    probe.crash('p');
    await settle();
    assert.equal(clock.pending(), 1);
    await sup.terminateChild('p');
    assert.equal(clock.pending(), 0);
    assert.deepEqual(
      sup.children().map((ch) => [ch.id, ch.state]),
      [['p', 'stopped']],
    );
    await stop(sup);
  });

  test('children() reports state, restarts, lastError and startedAt', async () => {
    const { clock, probe, sup } = setup({ ids: ['a'], backoff: { initialMs: 100, jitter: 0 } });
    await clock.advance(7);
    const err = probe.crash('a');
    await settle();
    assert.deepEqual(sup.children(), [{ id: 'a', state: 'restarting', restarts: 1, lastError: err, startedAt: 0 }]);
    await clock.advance(100);
    assert.deepEqual(sup.children(), [{ id: 'a', state: 'running', restarts: 1, lastError: err, startedAt: 107 }]);
    await stop(sup);
    assert.equal(sup.children()[0]!.state, 'stopped');
  });

  test('invalid specs and options are refused with errors that name them', async () => {
    assert.throws(() => new Supervisor({ strategy: 'one_for_none' as never }), /strategy/);
    assert.throws(() => new Supervisor({ intensity: -1 }), /intensity/);
    assert.throws(() => new Supervisor({ backoff: { factor: 0.5 } }), /backoff\.factor/);
    const probe = new Probe();
    assert.throws(() => new Supervisor({ children: [probe.spec('a'), probe.spec('a')] }), AlreadyExistsError);
    assert.throws(
      () => new Supervisor({ autoShutdown: 'any_significant', children: [probe.spec('a', { significant: true })] }),
      /permanent child cannot be significant/,
    );
    assert.throws(() => new Supervisor({ children: [probe.spec('a', { restart: 'transient', significant: true })] }), /autoShutdown/);
    const sup = new Supervisor({ clock: new TestClock() });
    await assert.rejects(sup.startChild({ id: 'x', start: () => 42 as never }), /must return a Worker or a Promise/);
    await stop(sup);
  });
});

describe('Supervisor significant children', () => {
  test('any_significant: the supervisor stops cleanly when a significant child exits and is not restarted', async () => {
    const { probe, sup } = setup({
      autoShutdown: 'any_significant',
      children: [],
    });
    await sup.startChild(probe.spec('other'));
    await sup.startChild(probe.spec('main', { restart: 'transient', significant: true }));
    probe.crash('main');
    await settle();
    assert.equal(probe.starts('main'), 2, 'a transient child that fails is restarted, not a shutdown');
    probe.exit('main');
    await sup.wait();
    assert.equal(probe.current.has('other'), false);
  });

  test('all_significant: the supervisor stops once the last significant child has exited', async () => {
    const { probe, sup } = setup({ autoShutdown: 'all_significant', children: [] });
    await sup.startChild(probe.spec('x', { restart: 'temporary', significant: true }));
    await sup.startChild(probe.spec('y', { restart: 'transient', significant: true }));
    let stopped = false;
    void sup.wait().then(() => (stopped = true));
    probe.crash('x');
    await settle();
    assert.equal(stopped, false);
    probe.exit('y');
    await sup.wait();
  });
});

describe('Supervisor events and logs', () => {
  test('started, exited, restarting and gaveUp are emitted in order and logged', async () => {
    const logs: string[] = [];
    const log = (level: string) => (_o: object, msg?: string) => logs.push(`${level}:${msg}`);
    const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const { probe, sup } = setup({ ids: ['a'], intensity: 1, logger, name: 'root' });
    const seen: string[] = [];
    sup.on('childStarted', (e) => seen.push(`started ${e.id} ${e.restarts}`));
    sup.on('childExited', (e) => seen.push(`exited ${e.id} ${e.error?.message ?? 'clean'}`));
    sup.on('childRestarting', (e) => seen.push(`restarting ${e.id} in ${e.delayMs}`));
    const off = sup.on('gaveUp', (e) => seen.push(`gaveUp ${e.supervisor} ${e.error.name}`));
    sup.on('childStarted', () => {
      throw new Error('a bad listener');
    });
    await settle();
    probe.crash('a', new Error('x'));
    await settle();
    probe.crash('a', new Error('y'));
    await assert.rejects(sup.wait());
    off();
    assert.deepEqual(seen, [
      'started a 0',
      'exited a x',
      'restarting a in 0',
      'started a 1',
      'exited a y',
      'gaveUp root RestartIntensityError',
    ]);
    assert.ok(logs.includes('warn:child exited with error'));
    assert.ok(logs.includes('info:child restarting'));
    assert.ok(logs.includes('error:supervisor gave up'));
    assert.ok(logs.includes('error:supervisor event listener threw'));
  });
});

test('restarts without backoff go on past a thousand in a row (no delay turns NaN)', async () => {
  let starts = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const sup = new Supervisor({
    intensity: Infinity,
    backoff: { initialMs: 0 },
    children: [
      {
        id: 'crashy',
        start: () => {
          if (++starts === 2000) done();
          return starts < 2000 ? startWorker(() => Promise.reject(new Error('crash'))) : noopWorker();
        },
      },
    ],
  });
  await finished;
  assert.equal(starts, 2000);
  await stopWorker(sup);
});

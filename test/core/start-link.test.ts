// OTP's start_link in core: a start that resolves its Worker only once ready (or a Worker
// with started()) holds back the next sibling; a failure to become ready is a failed start.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeadError,
  RestartIntensityError,
  Supervisor,
  startWorker,
  type ChildSpec,
  type SupervisorOptions,
  type Worker,
} from '../../src/core/index.js';
import { TestClock, settle } from '../../src/testing/index.js';

const noBackoff = { initialMs: 0, jitter: 0 };

/** Children whose starts, readiness, crashes and stops go to one log, all timed on one TestClock. */
class Ready {
  readonly log: string[] = [];
  readonly workers = new Map<string, { crash(err?: Error): void }>();
  constructor(readonly clock: TestClock) {}

  /** A Worker that logs its stop and can be crashed by the test. */
  worker(id: string): Worker {
    let crash!: (err: Error) => void;
    const w = startWorker(
      (signal) =>
        new Promise<void>((resolve, reject) => {
          crash = reject;
          signal.addEventListener('abort', () => (this.log.push(`stop:${id}`), resolve()), { once: true });
        }),
    );
    this.workers.set(id, { crash: (err = new Error(`${id} crashed`)) => (this.log.push(`crash:${id}`), crash(err)) });
    return w;
  }

  /**
   * `start` resolves the Worker `readyMs` after the call, or rejects then when `fail` says
   * so for this attempt (1-based).
   */
  spec(id: string, readyMs: number, fail: (attempt: number) => boolean = () => false, extra: Partial<ChildSpec> = {}): ChildSpec {
    let attempt = 0;
    return {
      ...extra,
      id,
      start: async (signal) => {
        const n = ++attempt;
        this.log.push(`call:${id}`);
        await this.clock.sleep(readyMs, signal);
        if (fail(n)) {
          this.log.push(`startfail:${id}`);
          throw new Error(`${id} never became ready`);
        }
        this.log.push(`ready:${id}`);
        return this.worker(id);
      },
    };
  }

  /** The same, as a Worker returned at once that says when it has started (`started()`). */
  startedSpec(id: string, readyMs: number, fail = false): ChildSpec {
    return {
      id,
      start: () => {
        this.log.push(`call:${id}`);
        const w = this.worker(id);
        const ready = this.clock.sleep(readyMs).then(() => {
          if (fail) {
            this.log.push(`startfail:${id}`);
            throw new Error(`${id} never became ready`);
          }
          this.log.push(`ready:${id}`);
        });
        ready.catch(() => {});
        return { kill: (r?: unknown) => w.kill(r), wait: () => w.wait(), started: () => ready };
      },
    };
  }

  take(): string[] {
    return this.log.splice(0);
  }
}

function setup(children: (r: Ready) => ChildSpec[], options: SupervisorOptions = {}) {
  const clock = new TestClock();
  const r = new Ready(clock);
  const sup = new Supervisor({ clock, intensity: 10, backoff: noBackoff, children: children(r), ...options });
  return { clock, r, sup };
}

function track(p: Promise<void>): { state: 'pending' | 'ok' | 'failed'; error?: unknown } {
  const t: { state: 'pending' | 'ok' | 'failed'; error?: unknown } = { state: 'pending' };
  p.then(
    () => (t.state = 'ok'),
    (e: unknown) => ((t.state = 'failed'), (t.error = e)),
  );
  return t;
}

const states = (sup: Supervisor) => sup.children().map((c) => `${c.id}:${c.state}`);

describe('start_link: start order', () => {
  test('children that resolve their Worker only when ready start strictly one after another', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 100), r.spec('b', 50), r.spec('c', 100)]);
    const started = track(sup.started());
    await clock.advance(0);
    assert.deepEqual(r.take(), ['call:a']);
    assert.deepEqual(states(sup), ['a:starting', 'b:starting', 'c:starting']);
    await clock.advance(100);
    assert.deepEqual(r.take(), ['ready:a', 'call:b']);
    assert.deepEqual(states(sup), ['a:running', 'b:starting', 'c:starting']);
    await clock.advance(50);
    assert.deepEqual(r.take(), ['ready:b', 'call:c']);
    assert.equal(started.state, 'pending', 'started() waits for the last child too');
    await clock.advance(100);
    assert.deepEqual(r.take(), ['ready:c']);
    assert.equal(started.state, 'ok');
    assert.deepEqual(states(sup), ['a:running', 'b:running', 'c:running']);
    sup.kill();
    await sup.wait();
    assert.deepEqual(r.take(), ['stop:c', 'stop:b', 'stop:a']);
  });

  test("a Worker's own started() holds back the next sibling in the same way", async () => {
    const { clock, r, sup } = setup((r) => [r.startedSpec('a', 100), r.startedSpec('b', 100)]);
    const started = track(sup.started());
    await clock.advance(0);
    assert.deepEqual(r.take(), ['call:a']);
    assert.deepEqual(states(sup), ['a:starting', 'b:starting']);
    await clock.advance(100);
    assert.deepEqual(r.take(), ['ready:a', 'call:b']);
    await clock.advance(100);
    assert.deepEqual(r.take(), ['ready:b']);
    assert.equal(started.state, 'ok');
    sup.kill();
    await sup.wait();
  });

  test('childStarted is emitted once a pending start has settled, not at the call', async () => {
    const { clock, sup } = setup((r) => [r.spec('a', 100)]);
    const seen: string[] = [];
    sup.on('childStarted', (e) => seen.push(`${e.id}@${clock.now()}`));
    await clock.advance(0);
    assert.deepEqual(seen, []);
    await clock.advance(100);
    assert.deepEqual(seen, ['a@100']);
    sup.kill();
    await sup.wait();
  });

  test('a promise of nothing holds back the next sibling until the call ends; its end is a clean exit decided after the sequence', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    const sup = new Supervisor({
      clock,
      backoff: noBackoff,
      children: [
        {
          id: 'migrate',
          restart: 'transient',
          start: async (signal) => {
            log.push('call:migrate');
            await clock.sleep(100, signal);
            log.push('done:migrate');
          },
        },
        {
          id: 'api',
          start: () => (log.push('call:api'), startWorker((s) => new Promise<void>((r) => s.addEventListener('abort', () => r())))),
        },
      ],
    });
    const removed: string[] = [];
    sup.on('childRemoved', (e) => removed.push(e.id));
    await clock.advance(0);
    assert.deepEqual(log, ['call:migrate']);
    await clock.advance(100);
    assert.deepEqual(log, ['call:migrate', 'done:migrate', 'call:api']);
    assert.deepEqual(removed, ['migrate'], 'the transient call that ended cleanly is removed');
    assert.deepEqual(states(sup), ['api:running']);
    sup.kill();
    await sup.wait();
  });

  test('a child added by startChild does not overtake the pending last start of the start sequence', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 100)]);
    await clock.advance(0);
    const added = track(sup.startChild(r.spec('b', 0)));
    await clock.advance(50);
    assert.deepEqual(r.take(), ['call:a']);
    await clock.advance(50);
    assert.deepEqual(r.take(), ['ready:a', 'call:b', 'ready:b']);
    assert.equal(added.state, 'ok');
    sup.kill();
    await sup.wait();
  });
});

describe('start_link: group restarts', () => {
  test('rest_for_one restarts slow children strictly one after another', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 100), r.spec('b', 100), r.spec('c', 100)], { strategy: 'rest_for_one' });
    await clock.advance(300);
    r.take();
    r.workers.get('b')!.crash();
    await clock.advance(0);
    assert.deepEqual(r.take(), ['crash:b', 'stop:c', 'call:b']);
    assert.deepEqual(states(sup), ['a:running', 'b:starting', 'c:restarting']);
    await clock.advance(100);
    assert.deepEqual(r.take(), ['ready:b', 'call:c']);
    await clock.advance(100);
    assert.deepEqual(r.take(), ['ready:c']);
    assert.deepEqual(states(sup), ['a:running', 'b:running', 'c:running']);
    sup.kill();
    await sup.wait();
  });

  test('a group member that fails to become ready restarts the group from itself, after its backoff', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('w1', 10), r.spec('w2', 10, (n) => n === 2), r.spec('w3', 10, (n) => n === 2)], {
      strategy: 'rest_for_one',
      backoff: { initialMs: 50, jitter: 0 },
    });
    await clock.advance(30);
    r.take();
    r.workers.get('w1')!.crash();
    await clock.advance(50 + 10);
    assert.deepEqual(r.take(), ['crash:w1', 'stop:w3', 'stop:w2', 'call:w1', 'ready:w1', 'call:w2']);
    await clock.advance(10);
    assert.deepEqual(r.take(), ['startfail:w2'], 'w3 is not started while w2 is down');
    assert.deepEqual(states(sup), ['w1:running', 'w2:restarting', 'w3:restarting']);
    await clock.advance(60); // w2's own first failure: its backoff, 50 ms, then 10 ms to be ready
    assert.deepEqual(r.take(), ['call:w2', 'ready:w2', 'call:w3']);
    await clock.advance(10); // w3, the last, fails: decided like its crash, it restarts alone
    assert.deepEqual(r.take(), ['startfail:w3']);
    await clock.advance(100);
    assert.deepEqual(r.take(), ['call:w3', 'ready:w3']);
    assert.deepEqual(states(sup), ['w1:running', 'w2:running', 'w3:running']);
    sup.kill();
    await sup.wait();
  });
});

describe('start_link: failures', () => {
  test('a failure to become ready at start-up kills the supervisor with it, stopping the children already started in reverse order', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 10), r.spec('b', 10), r.spec('c', 10, () => true), r.spec('d', 10)]);
    const started = track(sup.started());
    const done = track(sup.wait());
    await clock.advance(30);
    assert.deepEqual(r.take(), ['call:a', 'ready:a', 'call:b', 'ready:b', 'call:c', 'startfail:c', 'stop:b', 'stop:a']);
    assert.equal(done.state, 'failed');
    assert.match((done.error as Error).message, /c never became ready/);
    assert.equal(started.state, 'failed');
    assert.equal(started.error, done.error, 'started() rejects with the error the supervisor died of');
  });

  test('a Worker whose started() rejects is a failed start, and that Worker is stopped', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 0), r.startedSpec('b', 10, true)]);
    const done = track(sup.wait());
    await clock.advance(10);
    assert.deepEqual(r.take(), ['call:a', 'ready:a', 'call:b', 'startfail:b', 'stop:b', 'stop:a']);
    assert.equal(done.state, 'failed');
  });

  test('a Worker that stops before its started() settled has failed to start', async () => {
    const clock = new TestClock();
    const sup = new Supervisor({
      clock,
      children: [
        {
          id: 'quitter',
          start: () => {
            const w = startWorker(() => Promise.reject(new Error('died while starting')));
            return { kill: () => w.kill(), wait: () => w.wait(), started: () => new Promise<void>(() => {}) };
          },
        },
      ],
    });
    await assert.rejects(sup.wait(), /died while starting/);
    await assert.rejects(sup.started(), /died while starting/);
  });

  test('a one_for_one restart that fails to become ready is counted like a crash and retried', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 10, (n) => n === 2)], { intensity: 2 });
    const restarting: (string | undefined)[] = [];
    sup.on('childRestarting', (e) => restarting.push(e.error?.message));
    await clock.advance(10);
    r.take();
    r.workers.get('a')!.crash();
    await clock.advance(10);
    assert.deepEqual(r.take(), ['crash:a', 'call:a', 'startfail:a', 'call:a']);
    await clock.advance(10);
    assert.deepEqual(r.take(), ['ready:a']);
    assert.deepEqual(restarting, ['a crashed', 'a never became ready']);
    assert.deepEqual(
      sup.children().map((c) => [c.state, c.restarts]),
      [['running', 2]],
    );
    sup.kill();
    await sup.wait();
  });

  test('with intensity 1 a crash and then a failure to become ready give up, with the start error as cause', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 10, (n) => n === 2)], { intensity: 1 });
    const done = track(sup.wait());
    await clock.advance(10);
    r.workers.get('a')!.crash();
    await clock.advance(10);
    assert.equal(done.state, 'failed');
    assert.ok(done.error instanceof RestartIntensityError);
    assert.match(((done.error as Error).cause as Error).message, /a never became ready/);
  });

  test('a failed startChild rejects with the start error and adds nothing', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 0)]);
    await clock.advance(0);
    const events: string[] = [];
    for (const name of ['childStarted', 'childExited', 'childRestarting', 'childRemoved'] as const) sup.on(name, () => events.push(name));
    const added = track(sup.startChild(r.spec('b', 100, () => true)));
    await clock.advance(50);
    assert.equal(added.state, 'pending', 'startChild settles only once the start has');
    assert.deepEqual(states(sup), ['a:running', 'b:starting']);
    await clock.advance(50);
    assert.equal(added.state, 'failed');
    assert.match((added.error as Error).message, /b never became ready/);
    assert.deepEqual(states(sup), ['a:running']);
    assert.deepEqual(events, []);
    const again = track(sup.startChild(r.spec('b', 0)));
    await clock.advance(0);
    assert.equal(again.state, 'ok');
    assert.deepEqual(states(sup), ['a:running', 'b:running'], 'the id is free');
    sup.kill();
    await sup.wait();
  });

  test('restartChild settles once the start has, and rejects with its error leaving the child stopped', async () => {
    const { clock, sup } = setup((r) => [r.spec('a', 100, (n) => n === 3)]);
    await clock.advance(100);
    const again = track(sup.restartChild('a'));
    await clock.advance(50);
    assert.equal(again.state, 'pending');
    await clock.advance(50);
    assert.equal(again.state, 'ok');
    const third = track(sup.restartChild('a'));
    await clock.advance(100);
    assert.equal(third.state, 'failed');
    assert.deepEqual(states(sup), ['a:stopped']);
    sup.kill();
    await sup.wait();
  });
});

describe('start_link: while a start is pending', () => {
  test("a one_for_one restart's pending start holds nothing up: other exits and commands are handled meanwhile", async () => {
    const { clock, r, sup } = setup((r) => [r.spec('b', 0), r.spec('c', 0), r.spec('slow', 1000)]);
    await clock.advance(1000);
    assert.deepEqual(states(sup), ['b:running', 'c:running', 'slow:running']);
    r.take();
    r.workers.get('slow')!.crash();
    await clock.advance(0);
    assert.deepEqual(r.take(), ['crash:slow', 'call:slow']);
    assert.deepEqual(states(sup), ['b:running', 'c:running', 'slow:starting']);
    r.workers.get('b')!.crash();
    await clock.advance(0);
    assert.deepEqual(r.take(), ['crash:b', 'call:b', 'ready:b'], "b's crash is handled while slow starts");
    await sup.terminateChild('c');
    assert.deepEqual(r.take(), ['stop:c']);
    assert.deepEqual(states(sup), ['b:running', 'c:stopped', 'slow:starting']);
    await clock.advance(1000);
    assert.deepEqual(r.take(), ['ready:slow']);
    assert.deepEqual(states(sup), ['b:running', 'c:stopped', 'slow:running']);
    sup.kill();
    await sup.wait();
  });

  test("kill() during a pending start aborts that start's signal; shutdown waits for it and stops the Worker it brought", async () => {
    const clock = new TestClock();
    const log: string[] = [];
    let signal!: AbortSignal;
    let bring!: (w: Worker) => void;
    const sup = new Supervisor({
      clock,
      children: [
        {
          id: 'a',
          start: () => startWorker((s) => new Promise<void>((r) => s.addEventListener('abort', () => (log.push('stop:a'), r())))),
        },
        {
          id: 'deaf',
          // Ignores its signal: resolves its Worker when the test says. Shutdown must wait.
          start: (s) => ((signal = s), new Promise<Worker>((r) => (bring = r))),
        },
      ],
    });
    await clock.advance(0);
    const done = track(sup.wait());
    sup.kill();
    await clock.advance(60_000);
    assert.equal(signal.aborted, true);
    assert.equal(done.state, 'pending', 'a start that ignores its signal blocks shutdown, as in OTP');
    assert.equal(log.length, 0);
    bring(startWorker((s) => new Promise<void>((r) => s.addEventListener('abort', () => (log.push('stop:deaf'), r())))));
    await settle();
    assert.equal(done.state, 'ok');
    assert.deepEqual(log, ['stop:deaf', 'stop:a']);
    await assert.rejects(sup.started(), DeadError);
  });

  test('terminateChild of a starting child aborts the start and waits for it; the child is stopped', async () => {
    const { clock, r, sup } = setup((r) => [r.spec('a', 100)]);
    await clock.advance(0);
    const t = track(sup.terminateChild('a'));
    await settle();
    assert.equal(t.state, 'ok', 'the sleep honours the signal, so the start ends at once');
    assert.deepEqual(states(sup), ['a:stopped']);
    assert.deepEqual(r.take(), ['call:a']);
    assert.equal(clock.pending(), 0);
    sup.kill();
    await sup.wait();
  });
});

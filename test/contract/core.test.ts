// Contract check of `bosun` (core) and `bosun/testing`, imported by package name as an outside
// user would (self-reference through package.json "exports" to dist/). Each test pins one
// sentence of shared/DESIGN.md.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AlreadyExistsError,
  Catacomb,
  DeadError,
  KilledError,
  NotFoundError,
  RestartIntensityError,
  Engine,
  Runner,
  Supervisor,
  TimeoutError,
  defineConfig,
  finishedWorker,
  noopWorker,
  periodicWorker,
  startWorker,
  stopWorker,
  systemClock,
  type ChildSpec,
  type Clock,
  type Worker,
} from 'bosun';
import { TestClock } from 'bosun/testing';

/** Resolves once `p` settled, to 'ok' or the error; 'pending' if it has not after a few turns. */
async function state(p: Promise<unknown>): Promise<unknown> {
  let out: unknown = 'pending';
  p.then(
    () => (out = 'ok'),
    (e: unknown) => (out = e),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return out;
}

/** A child that fails at once every time it starts, counting starts. */
function failing(id: string, counter: { n: number }, extra: Partial<ChildSpec> = {}): ChildSpec {
  return {
    id,
    start: () => {
      counter.n++;
      return startWorker(async () => {
        throw new Error(`${id} broke ${counter.n}`);
      });
    },
    ...extra,
  };
}

describe('contract: errors', () => {
  test('every error class has its stable code and keeps cause', () => {
    const cause = new Error('root');
    const cases: [Error & { code: string }, string][] = [
      [new KilledError('k', { cause }), 'KilledError'],
      [new DeadError('d', { cause }), 'DeadError'],
      [new AlreadyExistsError('a', { cause }), 'AlreadyExistsError'],
      [new NotFoundError('n', { cause }), 'NotFoundError'],
      [new RestartIntensityError('r', { cause }), 'RestartIntensityError'],
      [new TimeoutError('t', { cause }), 'TimeoutError'],
    ];
    const codes = new Set<string>();
    for (const [err, name] of cases) {
      assert.equal(typeof err.code, 'string', name);
      assert.ok(err.code.length > 0, name);
      assert.equal(err.cause, cause, name);
      assert.equal(err.name, name);
      assert.ok(err instanceof Error);
      codes.add(err.code);
    }
    assert.equal(codes.size, cases.length, 'codes are distinct');
  });
});

describe('contract: clock and TestClock', () => {
  test('systemClock has now, sleep and setTimeout', async () => {
    const c: Clock = systemClock;
    assert.equal(typeof c.now(), 'number');
    await c.sleep(1);
    let fired = false;
    const h = c.setTimeout(() => (fired = true), 1);
    await c.sleep(10);
    assert.equal(fired, true);
    h.clear();
    const ac = new AbortController();
    const p = c.sleep(10_000, ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(p, /stop/);
  });

  test('advance fires timers created inside the window, in due order', async () => {
    const clock = new TestClock();
    const seen: string[] = [];
    clock.setTimeout(() => {
      seen.push(`a@${clock.now()}`);
      // created inside the window, due inside it: must fire in this advance
      clock.setTimeout(() => seen.push(`c@${clock.now()}`), 10);
    }, 10);
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 15);
    // async work chained on a timer also runs, and its timer fires too
    void clock
      .sleep(5)
      .then(() => clock.sleep(20))
      .then(() => seen.push(`d@${clock.now()}`));
    assert.equal(clock.pending(), 3);
    await clock.advance(30);
    assert.deepEqual(seen, ['a@10', 'b@15', 'c@20', 'd@25']);
    assert.equal(clock.now(), 30);
    assert.equal(clock.pending(), 0);
  });

  test('advance first lets already-queued work run at the current time', async () => {
    const clock = new TestClock();
    let fired = -1;
    // the timer is set only after a few promise turns; advance must see it
    void Promise.resolve()
      .then(() => undefined)
      .then(() => clock.setTimeout(() => (fired = clock.now()), 100));
    await clock.advance(100);
    assert.equal(fired, 100);
  });

  test('waitAdvance waits for the pending timers, then advances; rejects when they never come', async () => {
    const clock = new TestClock();
    let fired = false;
    setTimeout(() => clock.setTimeout(() => (fired = true), 50), 5);
    await clock.waitAdvance(50, 1);
    assert.equal(fired, true);
    await assert.rejects(clock.waitAdvance(1, 1, 30), TimeoutError);
  });
});

describe('contract: workers from functions', () => {
  test('startWorker: kill is clean, an abort surfaced after kill is clean, an error rejects', async () => {
    const w = startWorker(
      (signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    );
    w.kill();
    w.kill(); // idempotent
    await w.wait();
    const w2 = startWorker(async (signal) => {
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      const e = new Error('aborted');
      e.name = 'AbortError';
      throw e;
    });
    w2.kill(new Error('why'));
    await w2.wait();
    const boom = new Error('boom');
    await assert.rejects(
      startWorker(async () => {
        throw boom;
      }).wait(),
      (e) => e === boom,
    );
  });

  test('periodicWorker calls every period on its clock; an error stops it with that error', async () => {
    const clock = new TestClock();
    let calls = 0;
    const boom = new Error('third call fails');
    const w = periodicWorker(
      () => {
        calls++;
        if (calls === 3) throw boom;
      },
      1000,
      { clock },
    );
    await clock.advance(0);
    const first = calls;
    assert.ok(first === 0 || first === 1);
    await clock.advance(999);
    const before = calls;
    await clock.advance(1);
    assert.equal(calls, before + 1);
    await clock.advance(2000);
    await assert.rejects(w.wait(), (e) => e === boom);
  });

  test('finishedWorker, noopWorker, stopWorker', async () => {
    await finishedWorker().wait();
    const n = noopWorker();
    assert.equal(await state(n.wait()), 'pending');
    await stopWorker(n);
  });
});

describe('contract: Catacomb', () => {
  test('clean when work resolves; added workers are killed and waited for', async () => {
    let childStopped = false;
    const child = startWorker(async (signal) => {
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      await new Promise((r) => setTimeout(r, 5));
      childStopped = true;
    });
    const c = Catacomb.invoke({ work: async () => {}, init: [child] });
    await c.wait();
    assert.equal(childStopped, true, 'wait settles only after added workers stopped');
    assert.equal(c.err(), undefined);
  });

  test('first real error wins; bare kill is clean; later errors never replace it', async () => {
    const first = new Error('first');
    const c = Catacomb.invoke({
      work: async (cat) => {
        await new Promise((r) => cat.dying.addEventListener('abort', r, { once: true }));
        throw new Error('work error after death');
      },
    });
    c.kill(first);
    c.kill(new Error('second'));
    await assert.rejects(c.wait(), (e) => e === first);
    assert.equal(c.err(), first);

    const clean = Catacomb.invoke({ work: (cat) => new Promise<void>((r) => cat.dying.addEventListener('abort', () => r())) });
    clean.kill();
    await clean.wait();
    assert.equal(clean.err(), undefined);
  });

  test("an added worker's error kills the catacomb; add after death kills the worker", async () => {
    const boom = new Error('child broke');
    const c = Catacomb.invoke({
      work: async (cat) => {
        cat.add(
          startWorker(async () => {
            throw boom;
          }),
        );
        await new Promise((r) => cat.dying.addEventListener('abort', r, { once: true }));
      },
    });
    await assert.rejects(c.wait(), (e) => e === boom);
    assert.equal(c.dying.aborted, true);
    const late = noopWorker();
    c.add(late);
    await late.wait(); // killed at once
  });
});

describe('contract: Supervisor', () => {
  test('defaults: first restart waits initialMs (100 ms ±10%); 2 restarts within 5000 ms give up with RestartIntensityError', async () => {
    const clock = new TestClock();
    const n = { n: 0 };
    const sup = new Supervisor({ clock, children: [failing('a', n)] });
    await clock.advance(0);
    assert.equal(n.n, 1);
    await clock.advance(89);
    assert.equal(n.n, 1, 'no restart before 90 ms');
    await clock.advance(22);
    assert.equal(n.n, 2, 'restarted by 111 ms');
    const kids = sup.children();
    assert.equal(kids.length, 1);
    assert.equal(kids[0]!.id, 'a');
    assert.equal(kids[0]!.restarts, 1);
    assert.ok(kids[0]!.lastError instanceof Error);
    assert.equal(typeof kids[0]!.startedAt, 'number');
    assert.equal(typeof kids[0]!.state, 'string');
    // the second crash is the second restart within 5000 ms: more than intensity 1
    await clock.advance(1000);
    await assert.rejects(sup.wait(), (e: unknown) => {
      assert.ok(e instanceof RestartIntensityError);
      assert.equal(e.code, new RestartIntensityError('x').code);
      assert.match(String((e.cause as Error).message), /a broke 2/);
      return true;
    });
  });

  test('intensity counts within periodMs only: restarts spread wider than the window never give up', async () => {
    const clock = new TestClock();
    let runs = 0;
    const sup = new Supervisor({
      clock,
      backoff: { initialMs: 0, jitter: 0 },
      children: [
        {
          id: 'slow',
          start: () => {
            runs++;
            return startWorker(async (signal) => {
              await clock.sleep(6000, signal);
              throw new Error('later');
            });
          },
        },
      ],
    });
    for (let i = 0; i < 4; i++) await clock.advance(6000);
    assert.equal(runs, 5);
    assert.equal(await state(sup.wait()), 'pending');
    await stopWorker(sup);
  });

  test('backoff doubles up to maxMs and resets after resetAfterMs of stable running', async () => {
    const clock = new TestClock();
    const startedAt: number[] = [];
    let stableRun = false;
    const sup = new Supervisor({
      clock,
      intensity: 100,
      backoff: { jitter: 0, maxMs: 400 },
      children: [
        {
          id: 'a',
          start: () => {
            startedAt.push(clock.now());
            const ms = stableRun ? 30_000 : 0;
            return startWorker(async (signal) => {
              if (ms > 0) await clock.sleep(ms, signal);
              throw new Error('fail');
            });
          },
        },
      ],
    });
    await clock.advance(100 + 200 + 400 + 400);
    const gaps = startedAt.slice(1).map((t, i) => t - startedAt[i]!);
    assert.deepEqual(gaps, [100, 200, 400, 400]);
    stableRun = true;
    await clock.advance(400); // next start, then it runs 30 s
    await clock.advance(30_000);
    const before = startedAt.length;
    await clock.advance(99);
    assert.equal(startedAt.length, before);
    await clock.advance(1);
    assert.equal(startedAt.length, before + 1, 'back to initialMs after a stable run');
    await stopWorker(sup);
  });

  test('initialMs 0 restarts at once', async () => {
    const clock = new TestClock();
    const n = { n: 0 };
    const sup = new Supervisor({ clock, intensity: 3, backoff: { initialMs: 0 }, children: [failing('a', n)] });
    await clock.advance(0);
    assert.equal(n.n, 4, 'start + 3 immediate restarts, then give up');
    await assert.rejects(sup.wait(), RestartIntensityError);
  });

  test('transient: clean stop removes it, an error restarts it; temporary: any stop removes it', async () => {
    const clock = new TestClock();
    const sup = new Supervisor({ clock, intensity: 10, backoff: { initialMs: 0 } });
    let tRuns = 0;
    await sup.startChild({
      id: 't',
      restart: 'transient',
      start: () => {
        tRuns++;
        return startWorker(async (signal) => {
          await clock.sleep(10, signal);
          if (tRuns === 1) throw new Error('first run fails');
        });
      },
    });
    await sup.startChild({
      id: 'tmp',
      restart: 'temporary',
      start: () =>
        startWorker(() =>
          clock.sleep(5).then(() => {
            throw new Error('x');
          }),
        ),
    });
    await sup.startChild({ id: 'p', start: () => noopWorker() });
    assert.deepEqual(
      sup.children().map((c) => c.id),
      ['t', 'tmp', 'p'],
    );
    await clock.advance(5);
    assert.deepEqual(
      sup.children().map((c) => c.id),
      ['t', 'p'],
      'temporary removed after it stopped',
    );
    await clock.advance(5);
    assert.equal(tRuns, 2, 'transient restarted after error');
    assert.deepEqual(
      sup.children().map((c) => c.id),
      ['t', 'p'],
    );
    await clock.advance(10);
    assert.deepEqual(
      sup.children().map((c) => c.id),
      ['p'],
      'transient removed after clean stop',
    );
    await stopWorker(sup);
  });

  test('one_for_all restart drops temporary siblings; start returning a promise of nothing is the work', async () => {
    const clock = new TestClock();
    const starts: string[] = [];
    let crash!: (e: Error) => void;
    const sup = new Supervisor({
      clock,
      strategy: 'one_for_all',
      intensity: 10,
      backoff: { initialMs: 0 },
      children: [
        { id: 'tmp', restart: 'temporary', start: () => (starts.push('tmp'), noopWorker()) },
        {
          id: 'crashy',
          start: () => {
            starts.push('crashy');
            return startWorker(
              (signal) =>
                new Promise<void>((_, rej) => {
                  crash = rej;
                  signal.addEventListener('abort', () => rej(signal.reason), { once: true });
                }),
            );
          },
        },
        {
          id: 'call',
          // The call itself is the work: it runs until its signal aborts. Its promise holds
          // back any sibling after it until it settles (start_link), so it comes last.
          start: async (signal) => {
            starts.push('call');
            await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          },
        },
      ],
    });
    await clock.advance(0);
    assert.deepEqual(starts, ['tmp', 'crashy', 'call']);
    crash(new Error('boom'));
    await clock.advance(0);
    assert.deepEqual(starts, ['tmp', 'crashy', 'call', 'crashy', 'call']);
    assert.deepEqual(
      sup.children().map((c) => c.id),
      ['crashy', 'call'],
    );
    await stopWorker(sup);
  });

  test('startChild/terminateChild/restartChild/deleteChild; errors by class', async () => {
    const clock = new TestClock();
    const sup = new Supervisor({ clock });
    let starts = 0;
    const spec: ChildSpec = { id: 'w', start: () => (starts++, noopWorker()) };
    const p = sup.startChild(spec);
    assert.ok(p instanceof Promise);
    await p;
    assert.equal(starts, 1);
    await assert.rejects(sup.startChild(spec), AlreadyExistsError);
    await sup.restartChild('w');
    assert.equal(starts, 2);
    await sup.terminateChild('w');
    assert.deepEqual(
      sup.children().map((c) => [c.id, c.state]),
      [['w', 'stopped']],
    );
    await sup.restartChild('w');
    assert.equal(starts, 3);
    await sup.deleteChild('w');
    assert.deepEqual(sup.children(), []);
    await assert.rejects(sup.deleteChild('w'), NotFoundError);
    await stopWorker(sup);
    await assert.rejects(sup.startChild({ id: 'late', start: () => noopWorker() }), DeadError);
  });

  test('default shutdownMs is 5000 for a worker that ignores kill; isFatal stops everything', async () => {
    const clock = new TestClock();
    const sup = new Supervisor({ clock });
    await sup.startChild({ id: 'deaf', start: () => ({ kill() {}, wait: () => new Promise<void>(() => {}) }) });
    const t = sup.terminateChild('deaf');
    await clock.advance(4999);
    assert.equal(await state(t), 'pending');
    await clock.advance(1);
    assert.equal(await state(t), 'ok');
    await stopWorker(sup);

    const fatal = new Error('fatal');
    const sup2 = new Supervisor({
      clock,
      intensity: 100,
      isFatal: (e) => e === fatal,
      children: [
        { id: 'x', start: () => startWorker(() => Promise.reject(fatal)) },
        { id: 'y', start: () => noopWorker() },
      ],
    });
    await clock.advance(0);
    await assert.rejects(sup2.wait(), (e) => e === fatal);
  });

  test('start calls run in order; an exit during start-up is handled after the start sequence', async () => {
    const clock = new TestClock();
    const starts: string[] = [];
    let aRuns = 0;
    const sup = new Supervisor({
      clock,
      intensity: 5,
      backoff: { initialMs: 0 },
      children: [
        {
          id: 'a',
          start: () => {
            starts.push('a');
            // fails at once the first time, during the start sequence
            return ++aRuns === 1 ? startWorker(() => Promise.reject(new Error('early'))) : noopWorker();
          },
        },
        { id: 'b', start: async () => (starts.push('b'), noopWorker()) },
        { id: 'c', start: () => (starts.push('c'), noopWorker()) },
      ],
    });
    await clock.advance(0);
    assert.deepEqual(starts, ['a', 'b', 'c', 'a']);
    await stopWorker(sup);
  });

  test('giving up stops the other children first; a child that is a supervisor defaults to shutdownMs infinity', async () => {
    const clock = new TestClock();
    let siblingStopped = false;
    const n = { n: 0 };
    const sup = new Supervisor({
      clock,
      intensity: 0,
      children: [
        {
          id: 'sib',
          start: () =>
            startWorker(async (signal) => {
              await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
              siblingStopped = true;
            }),
        },
        failing('bad', n),
      ],
    });
    await clock.advance(0);
    await assert.rejects(sup.wait(), RestartIntensityError);
    assert.equal(siblingStopped, true);

    const outer = new Supervisor({ clock });
    await outer.startChild({
      id: 'inner',
      start: () =>
        new Supervisor({
          clock,
          children: [{ id: 'deaf', shutdownMs: 8000, start: () => ({ kill() {}, wait: () => new Promise<void>(() => {}) }) }],
        }),
    });
    await clock.advance(0);
    const t = outer.terminateChild('inner');
    await clock.advance(5000);
    assert.equal(await state(t), 'pending', 'outer still waits for the inner supervisor past 5000 ms');
    await clock.advance(3000);
    assert.equal(await state(t), 'ok');
    await stopWorker(outer);
  });

  test('a supervisor is a Worker: nested one that gives up is one crash in its parent', async () => {
    const clock = new TestClock();
    const n = { n: 0 };
    const parent = new Supervisor({
      clock,
      intensity: 0,
      children: [{ id: 'inner', start: () => new Supervisor({ clock, intensity: 0, children: [failing('leaf', n)] }) }],
    });
    await clock.advance(0);
    await assert.rejects(parent.wait(), (e: unknown) => e instanceof RestartIntensityError && e.cause instanceof RestartIntensityError);
  });
});

describe('contract: what core gained for the fleet', () => {
  test("a child can declare itself a tree (default shutdown 'infinity'); Supervisor, Runner and Engine are trees", async () => {
    const clock = new TestClock();
    assert.equal(new Supervisor({ clock }).kind, 'tree');
    assert.equal(new Runner({ clock }).kind, 'tree');
    assert.equal(new Engine({ clock }).kind, 'tree');
    const sup = new Supervisor({ clock });
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    await sup.startChild({ id: 'tree', kind: 'tree', start: () => ({ kill() {}, wait: () => done }) });
    const t = sup.terminateChild('tree');
    await clock.advance(60_000);
    assert.equal(await state(t), 'pending', 'a tree is waited for past 5000 ms');
    finish();
    assert.equal(await state(t), 'ok');
    await stopWorker(sup);
  });

  test('a start that resolves its Worker only when ready holds back the next sibling (start_link)', async () => {
    const clock = new TestClock();
    const calls: string[] = [];
    const ready = (id: string, ms: number): ChildSpec => ({
      id,
      start: async (signal) => {
        calls.push(id);
        await clock.sleep(ms, signal);
        return noopWorker();
      },
    });
    const sup = new Supervisor({ clock, children: [ready('a', 100), ready('b', 100)] });
    await clock.advance(99);
    assert.deepEqual(calls, ['a']);
    assert.deepEqual(
      sup.children().map((c) => c.state),
      ['starting', 'starting'],
    );
    await clock.advance(1);
    assert.deepEqual(calls, ['a', 'b']);
    await clock.advance(100);
    assert.equal(await state(sup.started()), 'ok');
    await stopWorker(sup);

    const never = new Error('never ready');
    const failed = new Supervisor({
      clock,
      children: [ready('c', 10), { id: 'd', start: async () => Promise.reject(never) }],
    });
    await clock.advance(10);
    assert.equal(await state(failed.wait()), never, 'a failure to become ready is a failed start');
    assert.equal(await state(failed.started()), never);
  });
});

describe('contract: Runner', () => {
  test('ids, errors, clean stop removes, error restarts after restartDelayMs (default 3000)', async () => {
    const clock = new TestClock();
    const runner = new Runner({ clock });
    let aRuns = 0;
    await runner.startWorker('a', () => {
      aRuns++;
      return startWorker(async (signal) => {
        await clock.sleep(10, signal);
        throw new Error('a fails');
      });
    });
    await runner.startWorker('b', async () => noopWorker());
    await assert.rejects(
      runner.startWorker('a', () => noopWorker()),
      AlreadyExistsError,
    );
    assert.deepEqual(runner.workerNames().sort(), ['a', 'b']);
    const wb: Worker = await runner.worker('b');
    assert.equal(typeof wb.kill, 'function');
    await clock.advance(10);
    assert.equal(aRuns, 1);
    await clock.advance(2999);
    assert.equal(aRuns, 1, 'not before restartDelayMs');
    await clock.advance(1);
    assert.equal(aRuns, 2, 'no error is fatal by default; restarted after 3000 ms');
    const r = runner.report();
    assert.equal(r.state, 'running');
    assert.equal(typeof r.workers, 'object');
    assert.ok('a' in r.workers && 'b' in r.workers);

    await runner.startWorker('once', () => startWorker(async () => {}));
    await clock.advance(0);
    assert.ok(!runner.workerNames().includes('once'), 'a worker that stops cleanly is removed');
    await runner.stopWorker('b');
    assert.deepEqual(runner.workerNames(), ['a']);
    await assert.rejects(runner.worker('nope'), NotFoundError);

    await stopWorker(runner);
    await assert.rejects(
      runner.startWorker('late', () => noopWorker()),
      DeadError,
    );
  });

  test('isFatal stops the runner and it fails with that error', async () => {
    const clock = new TestClock();
    const fatal = new Error('fatal');
    const runner = new Runner({ clock, isFatal: (e) => e === fatal });
    await runner.startWorker('other', () => noopWorker());
    await runner.startWorker('m', () => startWorker(() => Promise.reject(fatal)));
    await clock.advance(0);
    await assert.rejects(runner.wait(), (e) => e === fatal);
    assert.equal(runner.report().state, 'stopped');
  });
});

describe('defineConfig from bosun', () => {
  test('types a daemon config written in JavaScript and returns it unchanged', () => {
    const config = { programs: { api: { command: ['node', 'server.js'], restart: 'on-failure' as const } } };
    assert.equal(defineConfig(config), config);
  });
});

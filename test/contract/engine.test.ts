// Contract check of the dependency engine, Gate and Fortress from `bosun`, imported by package
// name (dist/), against shared/DESIGN.md.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortedError,
  AlreadyExistsError,
  BounceError,
  DeadError,
  Engine,
  Fortress,
  Gate,
  MissingError,
  UninstallError,
  noopWorker,
  startWorker,
  stopWorker,
  type Manifold,
  type Worker,
} from 'bosun';
import { TestClock } from 'bosun/testing';

const fast = { errorDelayMs: 100, bounceDelayMs: 10, backoffFactor: 2, backoffResetMs: 1000, maxDelayMs: 1000, fuzz: 0 };

function events(): { log: string[]; manifold: (name: string, inputs?: string[], output?: unknown) => Manifold } {
  const log: string[] = [];
  return {
    log,
    manifold: (name, inputs = [], output = name) => ({
      inputs,
      start: async () => {
        log.push(`start:${name}`);
        return startWorker(async (signal) => {
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          log.push(`stop:${name}`);
        });
      },
      output: () => output,
    }),
  };
}

describe('contract: Engine', () => {
  test('runs inputs first, get reads the output; report() shape; dependents stop first on kill', async () => {
    const clock = new TestClock();
    const engine = new Engine({ isFatal: () => false, clock, ...fast });
    const { log, manifold } = events();
    let got: unknown;
    engine.install('app', {
      inputs: ['db'],
      start: async (ctx) => {
        got = ctx.get<string>('db');
        assert.ok(ctx.signal instanceof AbortSignal);
        return manifold('app').start(ctx);
      },
    });
    engine.install('db', manifold('db', [], 'DB-HANDLE'));
    await clock.advance(20);
    assert.equal(got, 'DB-HANDLE');
    const r = engine.report();
    assert.equal(r.state, 'running');
    assert.deepEqual(Object.keys(r.manifolds).sort(), ['app', 'db']);
    assert.equal(r.manifolds['app']!.state, 'running');
    assert.deepEqual(r.manifolds['app']!.inputs, ['db']);
    assert.equal(r.manifolds['app']!.startCount, 1);
    assert.equal(r.manifolds['db']!.startCount, 1);
    assert.ok(!('lastError' in r.manifolds['db']!) || r.manifolds['db']!.lastError === undefined);
    await stopWorker(engine);
    assert.deepEqual(log, ['start:db', 'start:app', 'stop:app', 'stop:db']);
    assert.equal(engine.report().state, 'stopped');
    assert.throws(() => engine.install('late', manifold('late')), DeadError);
  });

  test('ctx.get: undeclared input throws "not declared"; input not running throws MissingError', async () => {
    const clock = new TestClock();
    const engine = new Engine({ isFatal: () => false, clock, ...fast });
    const seen: unknown[] = [];
    engine.install('a', {
      inputs: [],
      start: async (ctx) => {
        try {
          ctx.get('b');
        } catch (e) {
          seen.push(e);
        }
        return noopWorker();
      },
    });
    engine.install('c', {
      inputs: ['missing'],
      start: async () => noopWorker(),
    });
    await clock.advance(0);
    assert.equal(seen.length, 1);
    assert.match((seen[0] as Error).message, /not declared/);
    assert.equal(engine.report().manifolds['c']!.state, 'stopped', 'waits for its input');
    // an input that stopped while a dependent is starting: MissingError
    let failInput!: () => void;
    engine.install('in', {
      start: async () =>
        startWorker(
          (signal) =>
            new Promise<void>((resolve, reject) => {
              failInput = () => reject(new Error('input died'));
              signal.addEventListener('abort', () => resolve(), { once: true });
            }),
        ),
      output: () => 'IN',
    });
    const seen2: unknown[] = [];
    engine.install('d', {
      inputs: ['in'],
      start: async (ctx) => {
        seen2.push(ctx.get('in'));
        failInput();
        await new Promise((r) => setImmediate(r));
        try {
          ctx.get('in');
        } catch (e) {
          seen2.push(e);
        }
        return noopWorker();
      },
    });
    await clock.advance(20);
    assert.equal(seen2[0], 'IN');
    assert.ok(seen2[1] instanceof MissingError, `got ${String(seen2[1])}`);
    await stopWorker(engine);
  });

  test('install refuses a cycle naming it, a name in use; throws at once without waiting', async () => {
    const clock = new TestClock();
    const engine = new Engine({ isFatal: () => false, clock, ...fast });
    let startCalled = false;
    engine.install('x', {
      inputs: ['y'],
      start: async () => {
        startCalled = true;
        return noopWorker();
      },
    });
    assert.equal(startCalled, false);
    engine.install('y', { inputs: ['z'], start: async () => noopWorker() });
    assert.throws(
      () => engine.install('z', { inputs: ['x'], start: async () => noopWorker() }),
      (e: Error) => /x/.test(e.message) && /y/.test(e.message) && /z/.test(e.message),
    );
    assert.throws(() => engine.install('x', { start: async () => noopWorker() }), AlreadyExistsError);
    await stopWorker(engine);
  });

  test('BounceError restarts after bounceDelayMs with no error backoff; UninstallError removes; errors back off', async () => {
    const clock = new TestClock();
    const engine = new Engine({ isFatal: () => false, clock, ...fast });
    let bounces = 0;
    let fails = 0;
    engine.install('bouncer', {
      start: async () => {
        bounces++;
        return startWorker(async (signal) => {
          await clock.sleep(5, signal);
          if (bounces < 3) throw new BounceError('again');
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        });
      },
    });
    engine.install('gone', { start: async () => Promise.reject(new UninstallError()) });
    engine.install('failing', {
      start: async () => {
        fails++;
        throw new Error(`fail ${fails}`);
      },
    });
    await clock.advance(0);
    assert.equal(fails, 1);
    assert.ok(!('gone' in engine.report().manifolds), 'uninstalled');
    await clock.advance(5);
    await clock.advance(9);
    assert.equal(bounces, 1, 'not before bounceDelayMs');
    await clock.advance(1);
    assert.equal(bounces, 2);
    await clock.advance(15);
    assert.equal(bounces, 3);
    await clock.advance(100 - 30);
    assert.equal(fails, 2, 'error restart after errorDelayMs');
    await clock.advance(199);
    assert.equal(fails, 2, 'second error waits errorDelayMs × backoffFactor');
    await clock.advance(1);
    assert.equal(fails, 3);
    assert.match(engine.report().manifolds['failing']!.lastError ?? '', /fail 3/);
    await stopWorker(engine);
  });

  test('a bounced input: its dependent stops first, and starts bounceDelayMs after the input runs again', async () => {
    const clock = new TestClock();
    const engine = new Engine({ isFatal: () => false, clock, ...fast, bounceDelayMs: 50 });
    const log: string[] = [];
    let bounceInput!: () => void;
    let inputRuns = 0;
    engine.install('in', {
      start: async () => {
        inputRuns++;
        log.push(`start:in@${clock.now()}`);
        return startWorker(
          (signal) =>
            new Promise<void>((resolve, reject) => {
              bounceInput = () => reject(new BounceError());
              signal.addEventListener(
                'abort',
                () => {
                  log.push(`stop:in@${clock.now()}`);
                  resolve();
                },
                { once: true },
              );
            }),
        );
      },
      output: () => inputRuns,
    });
    engine.install('dep', {
      inputs: ['in'],
      start: async (ctx) => {
        log.push(`start:dep(${ctx.get<number>('in')})@${clock.now()}`);
        return startWorker(async (signal) => {
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          log.push(`stop:dep@${clock.now()}`);
        });
      },
    });
    await clock.advance(100);
    assert.deepEqual(log, ['start:in@0', 'start:dep(1)@50']);
    bounceInput();
    await clock.advance(49);
    assert.deepEqual(log.slice(2), ['stop:dep@100']);
    await clock.advance(1);
    assert.deepEqual(log.slice(3), ['start:in@150']);
    await clock.advance(49);
    assert.equal(log.length, 4);
    await clock.advance(1);
    assert.deepEqual(log.slice(4), ['start:dep(2)@200']);
    await stopWorker(engine);
    assert.deepEqual(log.slice(5), ['stop:dep@200', 'stop:in@200']);
  });

  test('MissingError from start waits for an input change, it does not spin', async () => {
    const clock = new TestClock();
    const engine = new Engine({ isFatal: () => false, clock, ...fast });
    let bounce!: () => void;
    engine.install('in', {
      start: async () =>
        startWorker(
          (signal) =>
            new Promise<void>((resolve, reject) => {
              bounce = () => reject(new BounceError());
              signal.addEventListener('abort', () => resolve(), { once: true });
            }),
        ),
    });
    let tries = 0;
    engine.install('dep', {
      inputs: ['in'],
      start: async () => {
        if (++tries === 1) throw new MissingError('not ready yet');
        return noopWorker();
      },
    });
    await clock.advance(60_000);
    assert.equal(tries, 1, 'no retry without an input change');
    bounce();
    await clock.advance(100);
    assert.equal(tries, 2);
    assert.equal(engine.report().manifolds['dep']!.state, 'running');
    await stopWorker(engine);
  });

  test('a clean exit waits for an input change, it is not restarted on its own', async () => {
    const clock = new TestClock();
    const engine = new Engine({ isFatal: () => false, clock, ...fast });
    let runs = 0;
    engine.install('once', { start: async () => (runs++, startWorker(async () => {})) });
    await clock.advance(10_000);
    assert.equal(runs, 1);
    assert.equal(engine.report().manifolds['once']!.state, 'stopped');
    await stopWorker(engine);
  });

  test('every fatal error seen is weighed with worstError', async () => {
    const clock = new TestClock();
    const a = new Error('a');
    const b = new Error('b');
    const engine = new Engine({ isFatal: () => true, worstError: (x, y) => (x === b || y === b ? b : x), clock, ...fast });
    let failA!: () => void;
    engine.install('A', {
      start: async () =>
        startWorker(
          (signal) =>
            new Promise<void>((_, reject) => {
              failA = () => reject(a);
              signal.addEventListener('abort', () => reject(a), { once: true });
            }),
        ),
    });
    // B fails with b when the engine stops it: still before the engine has stopped
    engine.install('B', {
      start: async () =>
        startWorker((signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(b), { once: true }))),
    });
    await clock.advance(0);
    failA();
    await assert.rejects(engine.wait(), (e) => e === b);
  });

  test('a fatal error stops the engine; wait rejects with it; report carries a worker report', async () => {
    const clock = new TestClock();
    const fatal = new Error('fatal');
    const engine = new Engine({ isFatal: (e) => e === fatal, clock, ...fast });
    const reporting: Worker & { report(): unknown } = Object.assign(noopWorker(), { report: () => ({ ok: 1 }) });
    engine.install('r', { start: async () => reporting });
    await clock.advance(0);
    assert.deepEqual(engine.report().manifolds['r']!.report, { ok: 1 });
    engine.install('f', { start: async () => Promise.reject(fatal) });
    await clock.advance(0);
    await assert.rejects(engine.wait(), (e) => e === fatal);
  });
});

describe('contract: Gate and Fortress', () => {
  test('Gate: unlock, isUnlocked, unlocked()', async () => {
    const g = new Gate();
    assert.equal(g.isUnlocked(), false);
    let opened = false;
    const p = g.unlocked().then(() => (opened = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(opened, false);
    g.unlock();
    await p;
    assert.equal(g.isUnlocked(), true);
    await g.unlocked();
  });

  test('Fortress starts locked; visit waits and runs after unlock; signal abort rejects AbortedError; lockdown waits for visits', async () => {
    const f = new Fortress();
    assert.equal(typeof f.guard.unlock, 'function');
    assert.equal(typeof f.guest.visit, 'function');
    const ac = new AbortController();
    const aborted = f.guest.visit(() => 'never', ac.signal);
    let ran = false;
    const waiting = f.guest.visit(() => {
      ran = true;
      return 42;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(ran, false, 'locked at start');
    ac.abort();
    await assert.rejects(aborted, AbortedError);
    f.guard.unlock();
    assert.equal(await waiting, 42);
    let release!: () => void;
    let visitDone = false;
    const long = f.guest.visit(async () => {
      await new Promise<void>((r) => (release = r));
      visitDone = true;
    });
    await new Promise((r) => setImmediate(r));
    let locked = false;
    const ld = f.guard.lockdown(new AbortController().signal).then(() => (locked = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(locked, false, 'lockdown waits for the visit in progress');
    // A visit that arrives during lockdown waits for the next unlock (DESIGN; juju's fortress).
    let lateRan = false;
    const late = f.guest.visit(() => {
      lateRan = true;
      return 'late';
    });
    release();
    await ld;
    await long;
    assert.equal(visitDone, true);
    await new Promise((r) => setImmediate(r));
    assert.equal(lateRan, false, 'a visit after lockdown waits while locked');
    f.guard.unlock();
    assert.equal(await late, 'late');
    // killed fortress rejects visits
    const f2 = new Fortress();
    const v = f2.guest.visit(() => 1);
    f2.kill();
    await assert.rejects(v, AbortedError);
    await f2.wait();
    assert.equal(new AbortedError().code.length > 0, true);
  });
});

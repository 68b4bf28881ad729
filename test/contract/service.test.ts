// Contract check of `bosun/service`, imported by package name (dist/), against shared/DESIGN.md.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DeadError, NotFoundError, stopWorker } from 'bosun';
import {
  CronTask,
  PeriodicTask,
  PollerTask,
  QueueTask,
  Service,
  SkipTask,
  Task,
  TryLater,
  runMain,
  type ExecuteContext,
  type QueueContext,
} from 'bosun/service';
import { TestClock } from 'bosun/testing';

class FetchTask extends PeriodicTask {
  static override interval = 1000;
  runs: ExecuteContext[] = [];
  async execute(ctx: ExecuteContext): Promise<void> {
    this.runs.push(ctx);
  }
}

describe('contract: Service options', () => {
  test('static interval is the default; --fetch-task-interval value, =value and SVC_FETCH_TASK_INTERVAL set it', async () => {
    const cases: [string[], Record<string, string>, number][] = [
      [[], {}, 1000],
      [['--fetch-task-interval', '250'], {}, 250],
      [['--fetch-task-interval=300'], {}, 300],
      [[], { SVC_FETCH_TASK_INTERVAL: '400' }, 400],
      [['--fetch-task-interval=500'], { SVC_FETCH_TASK_INTERVAL: '400' }, 500],
    ];
    for (const [argv, env, want] of cases) {
      const svc = new Service({ name: 'svc', tasks: [FetchTask], argv, env, clock: new TestClock() });
      assert.equal(svc.getTask(FetchTask).interval, want, JSON.stringify([argv, env]));
      await stopWorker(svc);
    }
  });

  test('a bad value makes wait() reject naming the flag or the variable', async () => {
    const a = new Service({ name: 'svc', tasks: [FetchTask], argv: ['--fetch-task-interval', 'soon'], env: {}, clock: new TestClock() });
    await assert.rejects(a.wait(), /--fetch-task-interval/);
    const b = new Service({ name: 'svc', tasks: [FetchTask], argv: [], env: { SVC_FETCH_TASK_INTERVAL: 'soon' }, clock: new TestClock() });
    await assert.rejects(b.wait(), /SVC_FETCH_TASK_INTERVAL/);
  });
});

describe('contract: Service lifecycle', () => {
  test('hooks: every init deps first, every start, then stop and join in reverse; getTask at once; SkipTask drops', async () => {
    const log: string[] = [];
    class A extends Task {
      static override loopless = true;
      override async init() {
        log.push('init:A');
      }
      override async start() {
        log.push('start:A');
      }
      override async stop() {
        log.push('stop:A');
      }
      override async join() {
        log.push('join:A');
      }
    }
    class B extends Task {
      static override deps = [A];
      override async init() {
        log.push('init:B');
      }
      override async start() {
        log.push('start:B');
      }
      override async stop() {
        log.push('stop:B');
      }
      override async join() {
        log.push('join:B');
      }
      override async run(signal: AbortSignal) {
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      }
    }
    class Skipped extends Task {
      override async init(): Promise<void> {
        throw new SkipTask('not today');
      }
      override async start() {
        log.push('start:Skipped');
      }
      override async stop() {
        log.push('stop:Skipped');
      }
      override async join() {
        log.push('join:Skipped');
      }
    }
    class Unknown extends Task {}
    const svc = new Service({ name: 'svc', tasks: [B, Skipped], argv: [], env: {}, clock: new TestClock() });
    assert.ok(svc.getTask(B) instanceof B, 'getTask works from the constructor');
    assert.ok(svc.getTask(A) instanceof A, 'deps are added');
    assert.throws(() => svc.getTask(Unknown), NotFoundError);
    await new Promise((r) => setTimeout(r, 10));
    assert.throws(() => svc.getTask(Skipped), NotFoundError);
    await stopWorker(svc);
    assert.deepEqual(log, ['init:A', 'init:B', 'start:A', 'start:B', 'stop:B', 'stop:A', 'join:B', 'join:A']);
    assert.equal(new SkipTask('x').code.length > 0, true);
  });

  test('a dependency cycle throws from new Service', () => {
    class X extends Task {}
    class Y extends Task {}
    (X as unknown as { deps: unknown[] }).deps = [Y];
    (Y as unknown as { deps: unknown[] }).deps = [X];
    assert.throws(() => new Service({ name: 'svc', tasks: [X], argv: [], env: {} }), /X|Y/);
  });

  test('PeriodicTask: execute gets { signal, service } every interval; trigger runs now; TryLater afterMs; counters are numbers', async () => {
    const clock = new TestClock();
    const svc = new Service({ name: 'svc', tasks: [FetchTask], argv: [], env: {}, clock });
    const t = svc.getTask(FetchTask);
    await clock.advance(0);
    await new Promise((r) => setTimeout(r, 5));
    await clock.advance(0);
    const first = t.runs.length;
    assert.ok(first >= 1, 'runs at start');
    assert.ok(t.runs[0]!.signal instanceof AbortSignal);
    assert.equal(t.runs[0]!.service, svc);
    await clock.advance(1000);
    assert.equal(t.runs.length, first + 1);
    await t.trigger();
    assert.equal(t.runs.length, first + 2);
    for (const [k, v] of Object.entries(t.counters)) assert.equal(typeof v, 'number', k);
    assert.equal(t.counters['completed'], first + 2);
    const later = new TryLater(1234, 'busy');
    assert.equal(later.afterMs, 1234);
    assert.equal(later.message, 'busy');
    assert.equal(new TryLater(5).afterMs, 5);
    await stopWorker(svc);
  });

  test('run(signal) runs static workers times; PeriodicTask TryLater retries after afterMs instead of the interval', async () => {
    const clock = new TestClock();
    let loops = 0;
    class Loops extends Task {
      static override workers = 3;
      override async run(signal: AbortSignal) {
        loops++;
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      }
    }
    const runsAt: number[] = [];
    class Busy extends PeriodicTask {
      static override interval = 10_000;
      async execute(): Promise<void> {
        runsAt.push(clock.now());
        if (runsAt.length === 1) throw new TryLater(300);
      }
    }
    const svc = new Service({ name: 'svc', tasks: [Loops, Busy], argv: [], env: {}, clock });
    await new Promise((r) => setTimeout(r, 10));
    await clock.advance(0);
    assert.equal(loops, 3);
    assert.deepEqual(runsAt, [0]);
    await clock.advance(300);
    assert.deepEqual(runsAt, [0, 300]);
    assert.equal(svc.getTask(Busy).counters['tryLater'], 1);
    await clock.advance(10_000);
    assert.deepEqual(runsAt, [0, 300, 10_300]);
    await stopWorker(svc);
  });

  test('task classes exist: PollerTask, CronTask; runMain is a function', () => {
    assert.equal(typeof PollerTask, 'function');
    assert.equal(typeof CronTask, 'function');
    assert.equal(typeof runMain, 'function');
  });
});

describe('contract: QueueTask', () => {
  test('submit/map in input order; n-th TryLater waits afterMs × 2^(n-1)', async () => {
    const clock = new TestClock();
    const tries = new Map<number, number[]>();
    class Q extends QueueTask<number, number> {
      static override workers = 2;
      async execute(item: number, ctx: QueueContext): Promise<number> {
        assert.ok(ctx.signal instanceof AbortSignal);
        const seen = tries.get(item) ?? [];
        seen.push(clock.now());
        tries.set(item, seen);
        if (item === 7 && seen.length < 4) throw new TryLater(100);
        return item * 2;
      }
    }
    const svc = new Service({ name: 'svc', tasks: [Q], argv: [], env: {}, clock });
    const q = svc.getTask(Q);
    const mapped = q.map([3, 1, 2]);
    const retried = q.submit(7);
    await clock.advance(0);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(await mapped, [6, 2, 4]);
    await clock.advance(100 + 200 + 400);
    assert.equal(await retried, 14);
    const at = tries.get(7)!;
    const t0 = at[0]!;
    assert.deepEqual(
      at.map((t) => t - t0),
      [0, 100, 300, 700],
    );
    assert.equal(q.counters['completed'], 4);
    assert.equal(q.counters['tryLater'], 3);
    assert.equal(typeof q.counters['queueDepth'], 'number');
    assert.equal(typeof q.counters['running'], 'number');
    await stopWorker(svc);
  });

  test('TryLater backoff is capped at 60 s', async () => {
    const clock = new TestClock();
    const times: number[] = [];
    class Q extends QueueTask<number, number> {
      async execute(item: number): Promise<number> {
        times.push(clock.now());
        if (times.length < 3) throw new TryLater(40_000);
        return item;
      }
    }
    const svc = new Service({ name: 'svc', tasks: [Q], argv: [], env: {}, clock });
    const p = svc.getTask(Q).submit(1);
    await clock.advance(0);
    await new Promise((r) => setTimeout(r, 5));
    await clock.advance(40_000 + 60_000);
    assert.equal(await p, 1);
    assert.deepEqual(
      times.map((t) => t - times[0]!),
      [0, 40_000, 100_000],
    );
    await stopWorker(svc);
  });

  test('on stop: new submits reject DeadError, queued items run until drainMs, then the rest reject DeadError and running items see their signal abort', async () => {
    const clock = new TestClock();
    const aborted: number[] = [];
    class Q extends QueueTask<number, number> {
      static override drainMs = 1000;
      async execute(item: number, ctx: QueueContext): Promise<number> {
        await clock.sleep(400, ctx.signal).catch((e: unknown) => {
          aborted.push(item);
          throw e;
        });
        return item;
      }
    }
    const svc = new Service({ name: 'svc', tasks: [Q], argv: [], env: {}, clock });
    const q = svc.getTask(Q);
    await new Promise((r) => setTimeout(r, 5));
    const ps = [1, 2, 3, 4].map((i) =>
      q.submit(i).then(
        (v) => v,
        (e: unknown) => e,
      ),
    );
    await clock.advance(0);
    svc.kill();
    await clock.advance(0);
    await assert.rejects(q.submit(9), DeadError);
    await clock.advance(1000); // items 1 and 2 run (0-400, 400-800); 3 runs 800-1200 and is cut at 1000
    const results = await Promise.all(ps);
    assert.equal(results[0], 1);
    assert.equal(results[1], 2);
    assert.ok(results[2] instanceof DeadError, `item 3: ${String(results[2])}`);
    assert.ok(results[3] instanceof DeadError, `item 4: ${String(results[3])}`);
    assert.deepEqual(aborted, [3]);
    await svc.wait();
  });
});

describe('contract: status server', () => {
  test('status: { port: 0 } serves /healthz, /status JSON and /metrics on 127.0.0.1', async () => {
    class Idle extends Task {
      override async run(signal: AbortSignal) {
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      }
    }
    const svc = new Service({ name: 'svc', tasks: [Idle], argv: [], env: {}, status: { port: 0 } });
    const { host, port } = await svc.statusAddress();
    assert.equal(host, '127.0.0.1');
    assert.ok(port > 0);
    const base = `http://${host}:${port}`;
    let health = await fetch(`${base}/healthz`);
    for (let i = 0; i < 100 && health.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 10));
      health = await fetch(`${base}/healthz`);
    }
    assert.equal(health.status, 200);
    const status = await fetch(`${base}/status`);
    assert.match(status.headers.get('content-type') ?? '', /json/);
    assert.equal(typeof (await status.json()), 'object');
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /# (HELP|TYPE)/);
    await stopWorker(svc);
  });
});

describe('contract: runMain', () => {
  const script = fileURLToPath(new URL('./fixtures/run-main.js', import.meta.url));
  function run(args: string[], env: Record<string, string> = {}, signalOnUp?: NodeJS.Signals) {
    return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => {
        out += d;
        if (signalOnUp && out.includes('up')) p.kill(signalOnUp);
      });
      p.stderr.on('data', (d: Buffer) => (err += d));
      const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });
  }

  test('--help lists the flag and variable and exits 0; SIGTERM stops cleanly with 0; a bad value exits non-zero naming the flag', async () => {
    const [help, term, bad] = await Promise.all([run(['--help']), run([], {}, 'SIGTERM'), run(['--fetch-task-interval', 'soon'])]);
    assert.equal(help.code, 0);
    assert.match(help.out, /--fetch-task-interval/);
    assert.match(help.out, /SVC_FETCH_TASK_INTERVAL/);
    assert.equal(term.code, 0, term.err);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /--fetch-task-interval/);
  });
});

// Core held against Erlang/OTP 25's own supervisor. Each scenario runs on bosun's
// Supervisor (on a TestClock, with and without backoff) and must print the trace OTP prints
// for it, which is written out here and, when `erl` is installed, asked of OTP itself
// (test/core/otp/sup_trace.erl). Three of them are where bosun used to differ from OTP:
// a group restart whose child fails to start, a child supervisor that cannot start its own
// children, and a supervisor that gave up (OTP's exit reason `shutdown`).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  Supervisor,
  startWorker,
  type BackoffOptions,
  type ChildSpec,
  type RestartType,
  type SupervisorOptions,
} from '../../src/core/index.js';
import { TestClock } from '../../src/testing/index.js';

/** What OTP 25 prints for each scenario (checked against `erl` below when it is installed). */
const otp: Record<string, string[]> = {
  // rest_for_one [w1, w2]: w1 crashes and its restart fails once. OTP stops at the failed
  // child and retries from it; bosun used to go on to w2 (start w2, stop w2, start w1, start w2).
  restfail: [
    'start w1',
    'start w2',
    'crash w1',
    'stop w2',
    'startfail w1',
    'start w1',
    'start w2',
    'children w1:running w2:running',
    'stop w2',
    'stop w1',
  ],
  // one_for_all [w1, w2, w3]: w1 crashes and w2's restart fails once: w3 is not started, and
  // the retry restarts the whole group again.
  allfail: [
    'start w1',
    'start w2',
    'start w3',
    'crash w1',
    'stop w3',
    'stop w2',
    'start w1',
    'startfail w2',
    'stop w1',
    'start w1',
    'start w2',
    'start w3',
    'children w1:running w2:running w3:running',
    'stop w3',
    'stop w2',
    'stop w1',
  ],
  // startChild of a supervisor whose own child cannot start: an error, and nothing changes.
  startchild: ['start h', 'startfail leaf', 'result error', 'children h:running', 'stop h'],
  // A transient child supervisor that gave up is not restarted; its sibling keeps running.
  transient: ['start h', 'start leaf', 'crash leaf', 'children h:running inner:stopped', 'stop h'],
  // Significant, under auto_shutdown any_significant: its giving up stops the parent.
  significant: ['start h', 'start leaf', 'crash leaf', 'stop h', 'exit shutdown'],
  // A permanent child supervisor that gave up is restarted.
  permanent: ['start h', 'start leaf', 'crash leaf', 'start leaf', 'children h:running inner:running', 'stop leaf', 'stop h'],
};

/** bosun children in the vocabulary of sup_trace.erl, logging to one trace. */
class Trace {
  readonly lines: string[] = [];
  readonly #attempts = new Map<string, number>();
  readonly #crash = new Map<string, () => void>();

  constructor(
    readonly clock: TestClock,
    readonly backoff: BackoffOptions | undefined,
  ) {}

  worker(id: string, restart: RestartType, failOn: number[] = []): ChildSpec {
    return {
      id,
      restart,
      start: () => {
        const n = (this.#attempts.get(id) ?? 0) + 1;
        this.#attempts.set(id, n);
        if (failOn.includes(n)) {
          this.lines.push(`startfail ${id}`);
          throw new Error(`startfail ${id}`);
        }
        const w = startWorker(
          (signal) =>
            new Promise<void>((resolve, reject) => {
              this.#crash.set(id, () => (this.lines.push(`crash ${id}`), reject(new Error(`${id} crashed`))));
              signal.addEventListener('abort', () => (this.lines.push(`stop ${id}`), resolve()), { once: true });
            }),
        );
        this.lines.push(`start ${id}`);
        return w;
      },
    };
  }

  sup(options: SupervisorOptions): Supervisor {
    return new Supervisor({ clock: this.clock, periodMs: 5000, ...(this.backoff ? { backoff: this.backoff } : {}), ...options });
  }

  child(id: string, restart: RestartType, options: SupervisorOptions, significant = false): ChildSpec {
    return { id, restart, significant, start: () => this.sup({ name: id, ...options }) };
  }

  crash(id: string): void {
    this.#crash.get(id)!();
  }

  children(sup: Supervisor): void {
    // OTP shows a child that is not running and not restarting as pid `undefined`: `stopped`.
    const state = (s: string) => (s === 'running' ? 'running' : s === 'stopped' || s === 'failed' ? 'stopped' : 'restarting');
    this.lines.push(
      `children ${sup
        .children()
        .map((c) => `${c.id}:${state(c.state)}`)
        .join(' ')}`,
    );
  }
}

/** Runs one scenario on bosun; returns its trace. */
async function bosun(name: string, backoff: BackoffOptions | undefined): Promise<string[]> {
  const clock = new TestClock();
  const t = new Trace(clock, backoff);
  const advance = () => clock.advance(60_000);
  let sup: Supervisor;
  switch (name) {
    case 'restfail':
      sup = t.sup({ strategy: 'rest_for_one', intensity: 10, children: [t.worker('w1', 'permanent', [2]), t.worker('w2', 'permanent')] });
      await clock.advance(0);
      t.crash('w1');
      break;
    case 'allfail':
      sup = t.sup({
        strategy: 'one_for_all',
        intensity: 10,
        children: [t.worker('w1', 'permanent'), t.worker('w2', 'permanent', [2]), t.worker('w3', 'permanent')],
      });
      await clock.advance(0);
      t.crash('w1');
      break;
    case 'startchild': {
      sup = t.sup({ intensity: 10, children: [t.worker('h', 'permanent')] });
      await clock.advance(0);
      const added = sup.startChild(t.child('inner', 'permanent', { intensity: 10, children: [t.worker('leaf', 'permanent', [1])] })).then(
        () => 'ok',
        () => 'error',
      );
      await clock.advance(0);
      t.lines.push(`result ${await added}`);
      break;
    }
    case 'transient':
    case 'permanent':
      sup = t.sup({
        intensity: 10,
        children: [t.worker('h', 'permanent'), t.child('inner', name, { intensity: 0, children: [t.worker('leaf', 'permanent')] })],
      });
      await clock.advance(0);
      t.crash('leaf');
      break;
    case 'significant': {
      sup = t.sup({
        intensity: 10,
        autoShutdown: 'any_significant',
        children: [
          t.worker('h', 'permanent'),
          t.child('inner', 'transient', { intensity: 0, children: [t.worker('leaf', 'permanent')] }, true),
        ],
      });
      await clock.advance(0);
      let exited = false;
      void sup.wait().then(() => (exited = true));
      t.crash('leaf');
      await advance();
      t.lines.push(exited ? 'exit shutdown' : 'still running');
      return t.lines;
    }
    default:
      throw new Error(`no scenario ${name}`);
  }
  await advance();
  t.children(sup);
  sup.kill();
  await sup.wait();
  return t.lines;
}

const erl = spawnSync('erl', ['-noshell', '-eval', 'halt().'], { stdio: 'ignore' }).error === undefined;

/** Compiles and runs sup_trace.erl once for every scenario; returns each one's trace. */
async function askOtp(): Promise<Record<string, string[]>> {
  const source = fileURLToPath(new URL('../../../test/core/otp/sup_trace.erl', import.meta.url));
  const out = await mkdtemp(join(tmpdir(), 'bosun-otp-'));
  try {
    const run = promisify(execFile);
    await run('erlc', ['-o', out, source], { timeout: 60_000 });
    const names = Object.keys(otp);
    const { stdout } = await run('erl', ['-noshell', '-pa', out, '-eval', `sup_trace:main([${names.join(',')}])`, '-s', 'init', 'stop'], {
      timeout: 60_000,
    });
    const traces: Record<string, string[]> = {};
    let current: string[] | undefined;
    for (const line of stdout.split('\n')) {
      const m = /^scenario (\w+)$/.exec(line);
      if (m) traces[m[1]!] = current = [];
      else if (/^(start|startfail|stop|crash|children|result|exit|still|timeout)( |$)/.test(line)) current?.push(line);
    }
    return traces;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

describe('core against Erlang/OTP 25', () => {
  for (const [label, backoff] of [
    ['no backoff', { initialMs: 0, jitter: 0 }],
    ['the default backoff', undefined],
  ] as const) {
    for (const name of Object.keys(otp)) {
      test(`${name}, ${label}: bosun's trace is OTP's`, async () => {
        assert.deepEqual(await bosun(name, backoff), otp[name]);
      });
    }
  }

  test('OTP itself prints those traces', { skip: erl ? false : 'erl (Erlang/OTP) is not installed' }, async () => {
    assert.deepEqual(await askOtp(), otp);
  });
});

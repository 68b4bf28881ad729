// Signals a terminal or a service manager sends: each stops `bosun run` cleanly (exit 0, no pid
// file or socket left, no program process left), during start-up too; the detached daemon
// ignores SIGHUP; SIGUSR1 and `bosun logs --reopen` reopen daemon.log after logrotate moved it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { until } from '../support.js';
import { CLI, cli, Daemon, prog, processesWith, startDaemon, tempProject, waitFor } from './helpers.js';

const marker = () => `bosun-sig-${process.pid}-${Math.random().toString(36).slice(2)}`;

function fleet(m: string): string {
  return `dashboard: false
programs:
  api: { command: ${prog('--tick', 200)}, env: { BOSUN_TEST_VALUE: ${m} }, instances: 2 }
  tree: { command: ${prog('--grandchild')}, env: { BOSUN_TEST_VALUE: ${m} }, after: [api] }
`;
}

async function assertNothingLeft(home: string, m: string): Promise<void> {
  assert.equal(existsSync(join(home, 'bosun.pid')), false, 'no stale pid file');
  assert.equal(existsSync(join(home, 'bosun.sock')), false, 'no stale socket');
  // Killed processes leave /proc a moment after their parent saw them go.
  await until(() => processesWith(m).length === 0, `no process of the fleet left (${processesWith(m).join(', ')})`, 5000);
}

describe('signals to bosun run', { concurrency: 2 }, () => {
  for (const signal of ['SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGTERM', 'SIGINT'] as const) {
    test(`${signal} stops every program and exits 0 without stale files`, async () => {
      const m = marker();
      const p = tempProject(fleet(m));
      let d: Daemon | undefined;
      try {
        d = await startDaemon(p.dir, p.home);
        await d.until('all running', (s) => s.programs.length === 3 && s.programs.every((x) => x.pid !== null));
        // The grandchild (own process group) is up too.
        await d.line(/child=\d+/).catch(() => undefined);
        await until(() => processesWith(m).length >= 5, 'the whole fleet in /proc', 10_000);
        process.kill(d.pid, signal);
        assert.equal(await d.exited, 0, d.stderr);
        await assertNothingLeft(p.home, m);
      } finally {
        await d?.stop();
        p.cleanup();
      }
    });
  }

  test('SIGTERM during start-up (dashboard loading, programs spawning) leaves no stale socket or pid file', async () => {
    for (let round = 0; round < 3; round++) {
      const m = marker();
      const p = tempProject(
        `dashboard: { port: 0 }\nprograms:\n  api: { command: ${prog()}, env: { BOSUN_TEST_VALUE: ${m} }, instances: 3 }\n`,
      );
      try {
        const child = spawn(process.execPath, [CLI, 'run'], { cwd: p.dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => (stderr += b));
        child.stdout.resume();
        const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
        // The pid file is written early in start-up, before the dashboard and socket exist.
        await until(() => existsSync(join(p.home, 'bosun.pid')), 'the pid file', 10_000, 1);
        child.kill('SIGTERM');
        assert.equal(await exited, 0, stderr);
        await assertNothingLeft(p.home, m);
      } finally {
        p.cleanup();
      }
    }
  });

  test('a second signal while stopping exits 1 at once, and still leaves no stale files', async () => {
    const m = marker();
    const p = tempProject(
      `dashboard: false\nprograms:\n  stubborn: { command: ${prog('--ignore-term')}, env: { BOSUN_TEST_VALUE: ${m} }, killTimeout: 20s }\n`,
    );
    let d: Daemon | undefined;
    try {
      d = await startDaemon(p.dir, p.home);
      const program = (await d.until('running', (s) => s.programs[0]!.pid !== null)).programs[0]!.pid!;
      const log = join(p.home, 'logs', 'stubborn-0.log');
      const printed = (text: string) => existsSync(log) && readFileSync(log, 'utf8').includes(text);
      // Its first line comes once its SIGTERM handler is in place.
      await waitFor('the program to print its first line', () => printed('pid='));
      process.kill(d.pid, 'SIGINT');
      // The program got its SIGTERM (and ignores it): the daemon is waiting out killTimeout.
      await waitFor('the SIGTERM to reach the program', () => printed('ignoring SIGTERM'));
      process.kill(d.pid, 'SIGINT');
      assert.equal(await d.exited, 1);
      assert.match(d.stderr, /SIGINT again, exiting now/);
      // Told twice to stop, the daemon does not leave its program behind, SIGTERM ignored or not.
      await waitFor(
        'the program to be gone',
        () => !existsSync(`/proc/${program}`) || /\) [ZX] /.test(readFileSync(`/proc/${program}/stat`, 'latin1')),
      );
      assert.equal(existsSync(join(p.home, 'bosun.pid')), false, 'no stale pid file');
      assert.equal(existsSync(join(p.home, 'bosun.sock')), false, 'no stale socket');
    } finally {
      await d?.stop();
      p.cleanup();
    }
  });
});

describe('the detached daemon', () => {
  test('ignores SIGHUP; SIGUSR1 and bosun logs --reopen reopen daemon.log after it was moved', async () => {
    const m = marker();
    const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog()}, env: { BOSUN_TEST_VALUE: ${m} } }\n`);
    const log = join(p.home, 'daemon.log');
    try {
      const started = await cli(['start'], { cwd: p.dir });
      assert.equal(started.code, 0, started.stderr);
      const pid = Number(readFileSync(join(p.home, 'bosun.pid'), 'utf8'));
      process.kill(pid, 'SIGHUP');
      await waitFor('the SIGHUP line', () => readFileSync(log, 'utf8').includes('SIGHUP ignored'));
      assert.equal((await cli(['status', '--home', p.home])).code, 0, 'still running after SIGHUP');

      // logrotate: move the file, then ask for a reopen; new lines go to a new daemon.log.
      renameSync(log, `${log}.1`);
      process.kill(pid, 'SIGUSR1');
      await until(() => existsSync(log), 'daemon.log reopened after SIGUSR1', 5000);
      assert.equal((await cli(['restart', 'api', '--home', p.home])).code, 0);
      await waitFor('the restart in the new daemon.log', () => / api\[0\] started pid=/.test(readFileSync(log, 'utf8')));
      assert.doesNotMatch(readFileSync(`${log}.1`, 'utf8'), /SIGUSR1|api\[0\] stopped/);

      renameSync(log, `${log}.2`);
      const reopened = await cli(['logs', '--reopen', '--home', p.home]);
      assert.equal(reopened.code, 0, reopened.stderr);
      assert.equal(existsSync(log), true, 'daemon.log exists again once --reopen returns');
      assert.equal((await cli(['stop', 'api', '--home', p.home])).code, 0);
      await waitFor('the stop in the new daemon.log', () => / api\[0\] stopped/.test(readFileSync(log, 'utf8')));
    } finally {
      await cli(['shutdown', '--home', p.home]);
      await until(() => processesWith(m).length === 0, 'the fleet gone', 10_000);
      p.cleanup();
    }
  });
});
